//! Where a replicated command may go, from the keys it touches (the key positions of
//! Redis's command table, for the write commands a master replicates). Pure: table-tested.
//!
//! - One slot: the command goes to that slot's sender, after everything earlier for the
//!   same keys.
//! - Several slots, and splitting is exact (`DEL`, `UNLINK`, `MSET`, …): one command per
//!   slot.
//! - Several slots otherwise, no key, or a command not in the table: a barrier (every
//!   sender drained, then the command alone), which is always correct.

use std::collections::HashMap;
use std::sync::OnceLock;

use replicant_convert::key_slot;

/// What to do with one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not forwarded (`PING`, `REPLCONF`, and `PUBLISH` unless asked).
    Skip,
    /// Changes the database of what follows (`SELECT`).
    Select(u64),
    /// Starts, ends or cancels a transaction.
    Multi,
    /// Ends a transaction.
    Exec,
    /// Cancels a transaction.
    Discard,
    /// All keys in this slot; the index of the first key.
    Slot(u16, usize),
    /// Split into one command per slot: the argument indices each part keeps (after the
    /// command name).
    Split(Vec<(u16, Vec<usize>)>),
    /// Keys in several slots and no exact split: must run alone (a cluster cannot run it).
    CrossSlot,
    /// A known command without keys that acts on the whole server (`FLUSHALL`,
    /// `FUNCTION`, …): must run alone, and on every node of a cluster.
    Broadcast,
    /// Not in the table: must run alone (a cluster cannot route it).
    Barrier,
}

/// How a command's keys are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// The key at this index.
    One(usize),
    /// Keys at these two indices (`RENAME src dst`).
    Two(usize, usize),
    /// Every argument from this index on is a key (`DEL k…`).
    AllFrom(usize),
    /// Key/value pairs from this index on (`MSET k v k v`).
    Pairs(usize),
    /// A key count at `at`, the keys after it, plus optionally a destination key at
    /// index 1 (`ZUNIONSTORE dst n k…`, `EVAL script n k…`).
    Counted { at: usize, dest: bool },
    /// `BITOP op dst k…`.
    AfterFirst,
    /// The key follows a subcommand (`XGROUP CREATE key …`, `OBJECT`-like).
    Second,
}

/// Whether a multi-key command may be split per slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    No,
    /// Each key on its own (`DEL`, `UNLINK`, `TOUCH`).
    EachKey,
    /// Each key/value pair on its own (`MSET`).
    EachPair,
}

/// Routes a command (`args[0]` is the name).
pub fn route(args: &[&[u8]], forward_publish: bool) -> Route {
    classify(args, forward_publish).0
}

/// Routes a command and names it (`"command"` when it is not in the table); the third
/// part says whether it may have several keys (see [`key_args`]).
pub fn classify(args: &[&[u8]], forward_publish: bool) -> (Route, &'static str, bool) {
    let Some(name) = args.first() else { return (Route::Skip, "command", false) };
    let Some(entry) = lookup(name) else { return (Route::Barrier, "command", false) };
    let multi_key = matches!(entry.class, Class::Keyed(keys, _) if !matches!(keys, Keys::One(_)));
    let route = match entry.class {
        Class::Skip => Route::Skip,
        Class::Publish if forward_publish => Route::Barrier,
        Class::Publish => Route::Skip,
        Class::Multi => Route::Multi,
        Class::Exec => Route::Exec,
        Class::Discard => Route::Discard,
        Class::Select => match args.get(1).and_then(|a| std::str::from_utf8(a).ok()?.parse().ok()) {
            Some(db) => Route::Select(db),
            None => Route::Barrier,
        },
        Class::Broadcast => Route::Broadcast,
        Class::Barrier => Route::Barrier,
        Class::Keyed(keys, split) => keyed(args, keys, split),
    };
    (route, entry.name, multi_key)
}

/// Every key of a command in the table, in order (none for others): for messages.
pub fn key_args<'a>(args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let Some(Class::Keyed(keys, _)) = args.first().and_then(|name| lookup(name)).map(|e| e.class) else {
        return Vec::new();
    };
    key_positions(args, keys).unwrap_or_default().iter().filter_map(|&i| args.get(i).copied()).collect()
}

/// The route of a command with keys.
fn keyed(args: &[&[u8]], keys: Keys, split: Split) -> Route {
    if let Keys::One(i) = keys {
        // The common case, without a list of positions.
        return args.get(i).map_or(Route::Barrier, |key| Route::Slot(key_slot(key), i));
    }
    let Some(positions) = key_positions(args, keys) else { return Route::Barrier };
    let mut slots = positions.iter().filter_map(|&i| args.get(i).map(|k| (key_slot(k), i)));
    let Some((first, at)) = slots.next() else { return Route::Barrier };
    if slots.all(|(s, _)| s == first) {
        return Route::Slot(first, at);
    }
    match split {
        Split::No => Route::CrossSlot,
        Split::EachKey => group(args, &positions, 1),
        Split::EachPair => group(args, &positions, 2),
    }
}

/// Groups keys (and their values, for pairs) by slot, in order of first appearance.
fn group(args: &[&[u8]], positions: &[usize], width: usize) -> Route {
    let mut parts: Vec<(u16, Vec<usize>)> = Vec::new();
    for &i in positions {
        let Some(key) = args.get(i) else { return Route::Barrier };
        let slot = key_slot(key);
        let idx = match parts.iter().position(|(s, _)| *s == slot) {
            Some(p) => p,
            None => {
                parts.push((slot, Vec::new()));
                parts.len() - 1
            }
        };
        if let Some((_, v)) = parts.get_mut(idx) {
            v.extend(i..i + width);
        }
    }
    Route::Split(parts)
}

fn key_positions(args: &[&[u8]], keys: Keys) -> Option<Vec<usize>> {
    let n = args.len();
    let v = match keys {
        Keys::One(i) => vec![i],
        Keys::Two(i, j) => vec![i, j],
        Keys::AllFrom(i) => (i..n).collect(),
        Keys::Pairs(i) => {
            if !(n - i.min(n)).is_multiple_of(2) {
                return None;
            }
            (i..n).step_by(2).collect()
        }
        Keys::Counted { at, dest } => {
            let count: usize = std::str::from_utf8(args.get(at)?).ok()?.parse().ok()?;
            let mut v: Vec<usize> = if dest { vec![1] } else { Vec::new() };
            v.extend(at + 1..at + 1 + count);
            v
        }
        Keys::AfterFirst => (2..n).collect(),
        Keys::Second => vec![2],
    };
    (v.iter().all(|&i| i < n) && !v.is_empty()).then_some(v)
}

/// The command's name as a static string, for messages (`"command"` when not in the table).
pub fn canonical(name: &[u8]) -> &'static str {
    lookup(name).map_or("command", |e| e.name)
}

/// What a command is, for routing.
#[derive(Debug, Clone, Copy)]
enum Class {
    /// Link upkeep, never forwarded.
    Skip,
    /// Forwarded only when asked, alone.
    Publish,
    Multi,
    Exec,
    Discard,
    Select,
    /// Acts on the whole server.
    Broadcast,
    /// Known, but must run alone (`MOVE` spans databases).
    Barrier,
    /// Has keys at these positions.
    Keyed(Keys, Split),
}

struct Entry {
    name: &'static str,
    class: Class,
}

const fn one() -> Class {
    Class::Keyed(Keys::One(1), Split::No)
}

const fn entry(name: &'static str, class: Class) -> Entry {
    Entry { name, class }
}

/// The write commands a master replicates (and what they are), Redis and Valkey.
static TABLE: &[Entry] = &[
    entry("PING", Class::Skip),
    entry("REPLCONF", Class::Skip),
    entry("PUBLISH", Class::Publish),
    entry("SPUBLISH", Class::Publish),
    entry("MULTI", Class::Multi),
    entry("EXEC", Class::Exec),
    entry("DISCARD", Class::Discard),
    entry("SELECT", Class::Select),
    entry("FLUSHALL", Class::Broadcast),
    entry("FLUSHDB", Class::Broadcast),
    entry("FUNCTION", Class::Broadcast),
    entry("SCRIPT", Class::Broadcast),
    entry("SWAPDB", Class::Broadcast),
    entry("MOVE", Class::Barrier),
    // strings and keys
    entry("SET", one()),
    entry("SETEX", one()),
    entry("PSETEX", one()),
    entry("SETNX", one()),
    entry("SETRANGE", one()),
    entry("APPEND", one()),
    entry("INCR", one()),
    entry("INCRBY", one()),
    entry("INCRBYFLOAT", one()),
    entry("DECR", one()),
    entry("DECRBY", one()),
    entry("GETSET", one()),
    entry("GETDEL", one()),
    entry("GETEX", one()),
    entry("EXPIRE", one()),
    entry("PEXPIRE", one()),
    entry("EXPIREAT", one()),
    entry("PEXPIREAT", one()),
    entry("PERSIST", one()),
    entry("RESTORE", one()),
    entry("RESTORE-ASKING", one()),
    entry("SETBIT", one()),
    entry("BITFIELD", one()),
    entry("PFADD", one()),
    entry("PFDEBUG", one()),
    entry("LCS", one()),
    // lists, sets, sorted sets, hashes
    entry("LPUSH", one()),
    entry("RPUSH", one()),
    entry("LPUSHX", one()),
    entry("RPUSHX", one()),
    entry("LPOP", one()),
    entry("RPOP", one()),
    entry("LSET", one()),
    entry("LREM", one()),
    entry("LTRIM", one()),
    entry("LINSERT", one()),
    entry("SADD", one()),
    entry("SREM", one()),
    entry("SPOP", one()),
    entry("ZADD", one()),
    entry("ZINCRBY", one()),
    entry("ZREM", one()),
    entry("ZREMRANGEBYSCORE", one()),
    entry("ZREMRANGEBYRANK", one()),
    entry("ZREMRANGEBYLEX", one()),
    entry("ZPOPMIN", one()),
    entry("ZPOPMAX", one()),
    entry("HSET", one()),
    entry("HSETNX", one()),
    entry("HMSET", one()),
    entry("HDEL", one()),
    entry("HINCRBY", one()),
    entry("HINCRBYFLOAT", one()),
    entry("HEXPIRE", one()),
    entry("HPEXPIRE", one()),
    entry("HEXPIREAT", one()),
    entry("HPEXPIREAT", one()),
    entry("HPERSIST", one()),
    entry("HGETDEL", one()),
    entry("HGETEX", one()),
    entry("HSETEX", one()),
    entry("GEOADD", one()),
    // streams
    entry("XADD", one()),
    entry("XDEL", one()),
    entry("XTRIM", one()),
    entry("XSETID", one()),
    entry("XACK", one()),
    entry("XCLAIM", one()),
    entry("XAUTOCLAIM", one()),
    entry("XDELEX", one()),
    entry("XACKDEL", one()),
    entry("XGROUP", Class::Keyed(Keys::Second, Split::No)),
    // several keys
    entry("DEL", Class::Keyed(Keys::AllFrom(1), Split::EachKey)),
    entry("UNLINK", Class::Keyed(Keys::AllFrom(1), Split::EachKey)),
    entry("TOUCH", Class::Keyed(Keys::AllFrom(1), Split::EachKey)),
    entry("MSET", Class::Keyed(Keys::Pairs(1), Split::EachPair)),
    entry("MSETNX", Class::Keyed(Keys::Pairs(1), Split::No)),
    entry("RENAME", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("RENAMENX", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("SMOVE", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("LMOVE", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("RPOPLPUSH", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("COPY", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("ZRANGESTORE", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("GEOSEARCHSTORE", Class::Keyed(Keys::Two(1, 2), Split::No)),
    entry("SINTERSTORE", Class::Keyed(Keys::AllFrom(1), Split::No)),
    entry("SUNIONSTORE", Class::Keyed(Keys::AllFrom(1), Split::No)),
    entry("SDIFFSTORE", Class::Keyed(Keys::AllFrom(1), Split::No)),
    entry("PFMERGE", Class::Keyed(Keys::AllFrom(1), Split::No)),
    entry("ZUNIONSTORE", Class::Keyed(Keys::Counted { at: 2, dest: true }, Split::No)),
    entry("ZINTERSTORE", Class::Keyed(Keys::Counted { at: 2, dest: true }, Split::No)),
    entry("ZDIFFSTORE", Class::Keyed(Keys::Counted { at: 2, dest: true }, Split::No)),
    entry("BITOP", Class::Keyed(Keys::AfterFirst, Split::No)),
    entry("EVAL", Class::Keyed(Keys::Counted { at: 2, dest: false }, Split::No)),
    entry("EVALSHA", Class::Keyed(Keys::Counted { at: 2, dest: false }, Split::No)),
    entry("EVAL_RO", Class::Keyed(Keys::Counted { at: 2, dest: false }, Split::No)),
    entry("EVALSHA_RO", Class::Keyed(Keys::Counted { at: 2, dest: false }, Split::No)),
    entry("FCALL", Class::Keyed(Keys::Counted { at: 2, dest: false }, Split::No)),
    entry("FCALL_RO", Class::Keyed(Keys::Counted { at: 2, dest: false }, Split::No)),
];

/// The longest command name looked up (longer ones are in no table).
const NAME_MAX: usize = 24;

/// The table's entry for a command name, in any case.
fn lookup(name: &[u8]) -> Option<&'static Entry> {
    static INDEX: OnceLock<HashMap<&'static [u8], &'static Entry>> = OnceLock::new();
    let index = INDEX.get_or_init(|| TABLE.iter().map(|e| (e.name.as_bytes(), e)).collect());
    let mut buf = [0u8; NAME_MAX];
    let upper = buf.get_mut(..name.len())?;
    for (o, c) in upper.iter_mut().zip(name) {
        *o = c.to_ascii_uppercase();
    }
    index.get(&*upper).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup_count() -> usize {
        TABLE.iter().filter(|e| std::ptr::eq(lookup(e.name.as_bytes()).unwrap(), *e)).count()
    }

    fn r(line: &str) -> Route {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        route(&args, false)
    }

    fn slot(k: &str) -> u16 {
        key_slot(k.as_bytes())
    }

    #[test]
    fn routing_table() {
        assert_eq!(r("PING"), Route::Skip);
        assert_eq!(r("REPLCONF GETACK *"), Route::Skip);
        assert_eq!(r("PUBLISH ch msg"), Route::Skip);
        assert_eq!(r("select 3"), Route::Select(3));
        assert_eq!(r("MULTI"), Route::Multi);
        assert_eq!(r("exec"), Route::Exec);
        assert_eq!(r("SET k v"), Route::Slot(slot("k"), 1));
        assert_eq!(r("XGROUP CREATE s g $"), Route::Slot(slot("s"), 2));
        assert_eq!(r("RENAME {a}1 {a}2"), Route::Slot(slot("a"), 1));
        assert_eq!(r("RENAME a b"), Route::CrossSlot);
        assert_eq!(key_args(&[b"rename", b"a", b"b"]), [b"a", b"b"]);
        assert_eq!(
            key_args(&[b"ZUNIONSTORE", b"d", b"2", b"x", b"y", b"WEIGHTS", b"1", b"2"]),
            [&b"d"[..], b"x", b"y"]
        );
        assert!(key_args(&[b"FLUSHALL"]).is_empty());
        assert!(classify(&[b"SMOVE", b"a", b"b", b"m"], false).2 && !classify(&[b"SET", b"a", b"1"], false).2);
        assert_eq!(r("FLUSHALL"), Route::Broadcast);
        assert_eq!(r("FUNCTION LOAD x"), Route::Broadcast);
        assert_eq!(r("SOMEMODULE.CMD k"), Route::Barrier);
        assert_eq!(r("EVAL s 0"), Route::Barrier);
        assert_eq!(r("EVAL s 2 {x}a {x}b"), Route::Slot(slot("x"), 3));
        assert_eq!(r("EVAL s 2 a b"), Route::CrossSlot);
        assert_eq!(r("ZUNIONSTORE {z}d 2 {z}a {z}b"), Route::Slot(slot("z"), 1));
        assert_eq!(r("MSETNX a 1 b 2"), Route::CrossSlot);
        assert_eq!(r("MSET a"), Route::Barrier, "malformed");
    }

    #[test]
    fn names_are_sorted_and_found_in_any_case() {
        assert_eq!(lookup_count(), TABLE.len(), "no name twice");
        assert_eq!(canonical(b"hset"), "HSET");
        assert_eq!(canonical(b"ZRemRangeByScore"), "ZREMRANGEBYSCORE");
        assert_eq!(canonical(b"NOSUCHCOMMAND"), "command");
        assert_eq!(canonical(b"A-NAME-LONGER-THAN-THE-BUFFER-HOLDS"), "command");
        assert_eq!(r("a-name-longer-than-the-buffer-holds k"), Route::Barrier);
    }

    #[test]
    fn exact_splits() {
        let (a, b) = (slot("a"), slot("b"));
        assert_ne!(a, b);
        assert_eq!(r("DEL a b a"), Route::Split(vec![(a, vec![1, 3]), (b, vec![2])]));
        assert_eq!(r("MSET a 1 b 2 {a}c 3"), Route::Split(vec![(a, vec![1, 2, 5, 6]), (b, vec![3, 4])]));
        assert_eq!(r("DEL a {a}x"), Route::Slot(a, 1));
    }
}
