//! Where a replicated command may go, from the keys it touches (the key positions of
//! Redis's command table, for the write commands a master replicates). Pure: table-tested.
//!
//! - One slot: the command goes to that slot's sender, after everything earlier for the
//!   same keys.
//! - Several slots, and splitting is exact (`DEL`, `UNLINK`, `MSET`, …): one command per
//!   slot.
//! - Several slots otherwise, no key, or a command not in the table: a barrier (every
//!   sender drained, then the command alone), which is always correct.

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
    let Some(name) = args.first() else { return Route::Skip };
    let mut buf = [0u8; NAME_MAX];
    let Some(name) = upper(name, &mut buf) else { return Route::Barrier };
    match name {
        "PING" | "REPLCONF" => return Route::Skip,
        "PUBLISH" | "SPUBLISH" if !forward_publish => return Route::Skip,
        "MULTI" => return Route::Multi,
        "EXEC" => return Route::Exec,
        "DISCARD" => return Route::Discard,
        "SELECT" => {
            return match args.get(1).and_then(|a| std::str::from_utf8(a).ok()?.parse().ok()) {
                Some(db) => Route::Select(db),
                None => Route::Barrier,
            }
        }
        _ => {}
    }
    if matches!(name, "FLUSHALL" | "FLUSHDB" | "FUNCTION" | "SCRIPT" | "SWAPDB") {
        return Route::Broadcast;
    }
    let Some((keys, split)) = spec(name) else { return Route::Barrier };
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

/// The command's name from the table, as a static string (for messages); `"command"` for
/// names the table does not know.
pub fn canonical(name: &[u8]) -> &'static str {
    let mut buf = [0u8; NAME_MAX];
    let Some(upper) = upper(name, &mut buf) else { return "command" };
    NAMES.binary_search(&upper).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("command")
}

/// Command names for messages, sorted (looked up by binary search).
const NAMES: &[&str] = &[
    "APPEND",
    "BITFIELD",
    "BITOP",
    "COPY",
    "DECR",
    "DECRBY",
    "DEL",
    "EVAL",
    "EVALSHA",
    "EXEC",
    "EXPIRE",
    "EXPIREAT",
    "FCALL",
    "FLUSHALL",
    "FLUSHDB",
    "FUNCTION",
    "GEOADD",
    "GETDEL",
    "GETEX",
    "GETSET",
    "HDEL",
    "HINCRBY",
    "HINCRBYFLOAT",
    "HMSET",
    "HPERSIST",
    "HPEXPIREAT",
    "HSET",
    "HSETNX",
    "INCR",
    "INCRBY",
    "INCRBYFLOAT",
    "LINSERT",
    "LMOVE",
    "LPOP",
    "LPUSH",
    "LPUSHX",
    "LREM",
    "LSET",
    "LTRIM",
    "MOVE",
    "MSET",
    "MSETNX",
    "MULTI",
    "PERSIST",
    "PEXPIRE",
    "PEXPIREAT",
    "PFADD",
    "PFMERGE",
    "PSETEX",
    "PUBLISH",
    "RENAME",
    "RENAMENX",
    "RESTORE",
    "RPOP",
    "RPOPLPUSH",
    "RPUSH",
    "RPUSHX",
    "SADD",
    "SCRIPT",
    "SDIFFSTORE",
    "SET",
    "SETBIT",
    "SETEX",
    "SETNX",
    "SETRANGE",
    "SINTERSTORE",
    "SMOVE",
    "SPOP",
    "SREM",
    "SUNIONSTORE",
    "SWAPDB",
    "TOUCH",
    "UNLINK",
    "XACK",
    "XADD",
    "XAUTOCLAIM",
    "XCLAIM",
    "XDEL",
    "XGROUP",
    "XSETID",
    "XTRIM",
    "ZADD",
    "ZDIFFSTORE",
    "ZINCRBY",
    "ZINTERSTORE",
    "ZPOPMAX",
    "ZPOPMIN",
    "ZRANGESTORE",
    "ZREM",
    "ZREMRANGEBYLEX",
    "ZREMRANGEBYRANK",
    "ZREMRANGEBYSCORE",
    "ZUNIONSTORE",
];

/// The longest command name looked up (longer ones are in no table).
const NAME_MAX: usize = 24;

/// The name in upper case, in `buf`, or `None` when it is too long or not UTF-8.
fn upper<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX]) -> Option<&'b str> {
    let out = buf.get_mut(..name.len())?;
    for (o, c) in out.iter_mut().zip(name) {
        *o = c.to_ascii_uppercase();
    }
    std::str::from_utf8(out).ok()
}

/// Key layout of the write commands masters replicate. Anything else is a barrier.
fn spec(name: &str) -> Option<(Keys, Split)> {
    use Keys::*;
    let one = (One(1), Split::No);
    Some(match name {
        // strings and keys
        "SET" | "SETEX" | "PSETEX" | "SETNX" | "SETRANGE" | "APPEND" | "INCR" | "INCRBY" | "INCRBYFLOAT" | "DECR"
        | "DECRBY" | "GETSET" | "GETDEL" | "GETEX" | "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" | "PERSIST"
        | "RESTORE" | "RESTORE-ASKING" | "SETBIT" | "BITFIELD" | "PFADD" | "PFDEBUG" | "LCS" => one,
        // lists, sets, sorted sets, hashes
        "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX" | "LPOP" | "RPOP" | "LSET" | "LREM" | "LTRIM" | "LINSERT" | "SADD"
        | "SREM" | "SPOP" | "ZADD" | "ZINCRBY" | "ZREM" | "ZREMRANGEBYSCORE" | "ZREMRANGEBYRANK" | "ZREMRANGEBYLEX"
        | "ZPOPMIN" | "ZPOPMAX" | "HSET" | "HSETNX" | "HMSET" | "HDEL" | "HINCRBY" | "HINCRBYFLOAT" | "HEXPIRE"
        | "HPEXPIRE" | "HEXPIREAT" | "HPEXPIREAT" | "HPERSIST" | "HGETDEL" | "HGETEX" | "HSETEX" | "GEOADD" => one,
        // streams
        "XADD" | "XDEL" | "XTRIM" | "XSETID" | "XACK" | "XCLAIM" | "XAUTOCLAIM" | "XDELEX" | "XACKDEL" => one,
        "XGROUP" => (Second, Split::No),
        // several keys
        "DEL" | "UNLINK" | "TOUCH" => (AllFrom(1), Split::EachKey),
        "MSET" => (Pairs(1), Split::EachPair),
        "MSETNX" => (Pairs(1), Split::No),
        "RENAME" | "RENAMENX" | "SMOVE" | "LMOVE" | "RPOPLPUSH" | "COPY" | "ZRANGESTORE" | "GEOSEARCHSTORE" => {
            (Two(1, 2), Split::No)
        }
        "SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" | "PFMERGE" => (AllFrom(1), Split::No),
        "ZUNIONSTORE" | "ZINTERSTORE" | "ZDIFFSTORE" => (Counted { at: 2, dest: true }, Split::No),
        "BITOP" => (AfterFirst, Split::No),
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => {
            (Counted { at: 2, dest: false }, Split::No)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(NAMES.windows(2).all(|w| w[0] < w[1]));
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
