//! Binlog commands → Redis commands: a pure function of the command, the caller's clock
//! and [`RewriteOptions`].
//!
//! - `pksetexat key <t> value` (Pika 4.0.1's form of SET EX/PX, SETEX, PSETEX, INCR*,
//!   APPEND): `t <= 0` means no TTL → `SET key value`. Otherwise `t` is an absolute time
//!   whose unit the binlog does not say: Pika writes **seconds** after SET EX/PX, SETEX and
//!   INCR*/APPEND, **milliseconds** after PSETEX. The rule: `t < 10^11` is seconds
//!   (seconds stay below 10^11 until the year 5138), otherwise milliseconds (any date after
//!   1973 is above 10^11 ms, every real one above 10^12). A time at or before `now_ms` →
//!   `DEL key`: the key ends deleted, as on Pika, on every Redis version and without
//!   depending on when the target expires it. Else `SET key value PXAT <ms>` (Redis ≥ 6.2).
//! - `expireat`/`pexpireat` and every other command: unchanged (a past EXPIREAT deletes the
//!   key on Redis as on Pika).
//! - Codis slot bookkeeping (`_internal:slotkey:4migrate:*`, `_internal:slottag:4migrate:*`,
//!   `include/pika_slot_command.h`): dropped unless [`RewriteOptions::drop_slot_keys`] is off.
//! - HyperLogLog: PFADD reaches the binlog as sent, so it is replayed unchanged and the
//!   target builds its own HLL of the same elements. PFMERGE reaches it as
//!   `set <dest> <Pika registers>` (`PfMergeCmd::DoBinlog`): 2^17 one-byte registers of
//!   at most 16 (`kPrecision = 17`), hashed with Pika's own MurmurHash3, which no Redis HLL
//!   can be made from. Such a `set` (exactly 131072 bytes, every byte ≤ 16, not all zero)
//!   is [`PikaError::PikaHyperLogLog`] naming the key; the caller decides to skip or stop.
//! - `padding`/`dummy` fillers: skipped.

use std::borrow::Cow;

use crate::binlog::{Filler, Payload};
use crate::error::{PikaError, Result};

/// Below this a `pksetexat` time is in seconds, from it on in milliseconds.
pub const MS_THRESHOLD: u64 = 100_000_000_000;

/// Prefixes of the Codis slot bookkeeping keys.
pub const SLOT_KEY_PREFIXES: [&[u8]; 2] = [b"_internal:slotkey:4migrate:", b"_internal:slottag:4migrate:"];

/// Length of a Pika HyperLogLog register string (2^17, one byte per register).
pub const PIKA_HLL_LEN: usize = 1 << 17;

/// The largest rank a Pika HyperLogLog register holds (32 − 17 + 1).
const PIKA_HLL_MAX_RANK: u8 = 16;

/// One Redis command: its arguments, name first, borrowed from the binlog where unchanged.
pub type RedisCommand<'a> = Vec<Cow<'a, [u8]>>;

/// How commands are rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewriteOptions {
    /// Drop commands on Codis slot bookkeeping keys. Default: true.
    pub drop_slot_keys: bool,
    /// Refuse `set`s that carry Pika HyperLogLog registers. Default: true.
    pub detect_pika_hll: bool,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        Self { drop_slot_keys: true, detect_pika_hll: true }
    }
}

/// The result of rewriting one binlog item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewritten<'a> {
    /// Send this to Redis.
    Command(RedisCommand<'a>),
    /// Nothing to send, and why.
    Skip(Skip),
}

/// Why an item is not replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A `padding` or `dummy` item.
    Filler(Filler),
    /// A command on a Codis slot bookkeeping key.
    SlotKey,
}

/// Rewrites one binlog payload for Redis; `now_ms` is the caller's clock (Unix ms).
pub fn rewrite<'a>(payload: &Payload<'a>, now_ms: u64, options: &RewriteOptions) -> Result<Rewritten<'a>> {
    let args = match payload {
        Payload::Filler(filler) => return Ok(Rewritten::Skip(Skip::Filler(*filler))),
        Payload::Command(args) => args,
    };
    let (name, key) = match args.as_slice() {
        [name, key, ..] => (*name, Some(*key)),
        [name] => (*name, None),
        [] => return Err(PikaError::Rewrite { command: String::new(), reason: "empty command" }),
    };
    if options.drop_slot_keys && key.is_some_and(is_slot_key) {
        return Ok(Rewritten::Skip(Skip::SlotKey));
    }
    if name.eq_ignore_ascii_case(b"pksetexat") {
        return pksetexat(args, now_ms).map(Rewritten::Command);
    }
    if options.detect_pika_hll && name.eq_ignore_ascii_case(b"set") {
        if let [_, key, value] = args.as_slice() {
            if is_pika_hll(value) {
                return Err(PikaError::PikaHyperLogLog { key: key.to_vec() });
            }
        }
    }
    Ok(Rewritten::Command(args.iter().map(|a| Cow::Borrowed(*a)).collect()))
}

fn is_slot_key(key: &[u8]) -> bool {
    SLOT_KEY_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

fn is_pika_hll(value: &[u8]) -> bool {
    value.len() == PIKA_HLL_LEN && value.iter().all(|b| *b <= PIKA_HLL_MAX_RANK) && value.iter().any(|b| *b != 0)
}

/// `pksetexat key t value` → `SET`, `SET … PXAT` or `DEL` (see the module docs).
fn pksetexat<'a>(args: &[&'a [u8]], now_ms: u64) -> Result<RedisCommand<'a>> {
    let bad = |reason| PikaError::Rewrite { command: "pksetexat".into(), reason };
    let [_, key, time, value] = args else { return Err(bad("expected 3 arguments")) };
    let time: i64 = std::str::from_utf8(time).ok().and_then(|t| t.parse().ok()).ok_or(bad("time is not an integer"))?;
    let set = |extra: Vec<Cow<'a, [u8]>>| {
        let mut cmd = vec![Cow::Borrowed(&b"SET"[..]), Cow::Borrowed(*key), Cow::Borrowed(*value)];
        cmd.extend(extra);
        cmd
    };
    let Some(at_ms) = expiry_ms(time).map_err(bad)? else { return Ok(set(Vec::new())) };
    if at_ms <= now_ms {
        return Ok(vec![Cow::Borrowed(&b"DEL"[..]), Cow::Borrowed(*key)]);
    }
    Ok(set(vec![Cow::Borrowed(&b"PXAT"[..]), Cow::Owned(at_ms.to_string().into_bytes())]))
}

/// A `pksetexat` time as Unix milliseconds; `None` for no TTL (`t <= 0`).
pub fn expiry_ms(time: i64) -> Result<Option<u64>, &'static str> {
    let Ok(time) = u64::try_from(time) else { return Ok(None) };
    match time {
        0 => Ok(None),
        t if t < MS_THRESHOLD => Ok(Some(t * 1000)),
        t => Ok(Some(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_796_660_608_714;

    fn run<'a>(args: &[&'a [u8]]) -> Result<Rewritten<'a>> {
        rewrite(&Payload::Command(args.to_vec()), NOW_MS, &RewriteOptions::default())
    }

    fn cmd(args: &[&str]) -> Rewritten<'static> {
        Rewritten::Command(args.iter().map(|a| Cow::Owned(a.as_bytes().to_vec())).collect())
    }

    #[test]
    fn pksetexat_units_and_no_ttl() {
        let secs = run(&[b"pksetexat", b"k", b"1796660711", b"v"]).unwrap();
        assert_eq!(secs, cmd(&["SET", "k", "v", "PXAT", "1796660711000"]));
        let millis = run(&[b"PKSETEXAT", b"k", b"1796660711123", b"v"]).unwrap();
        assert_eq!(millis, cmd(&["SET", "k", "v", "PXAT", "1796660711123"]));
        assert_eq!(run(&[b"pksetexat", b"k", b"0", b"12"]).unwrap(), cmd(&["SET", "k", "12"]));
        assert_eq!(run(&[b"pksetexat", b"k", b"-1", b"12"]).unwrap(), cmd(&["SET", "k", "12"]));
    }

    #[test]
    fn pksetexat_in_the_past_deletes() {
        assert_eq!(run(&[b"pksetexat", b"k", b"1796660608", b"v"]).unwrap(), cmd(&["DEL", "k"]));
        assert_eq!(run(&[b"pksetexat", b"k", b"1796660608714", b"v"]).unwrap(), cmd(&["DEL", "k"]));
        assert_eq!(run(&[b"pksetexat", b"k", b"5", b"v"]).unwrap(), cmd(&["DEL", "k"]));
    }

    #[test]
    fn unit_threshold() {
        assert_eq!(expiry_ms(99_999_999_999), Ok(Some(99_999_999_999_000)));
        assert_eq!(expiry_ms(100_000_000_000), Ok(Some(100_000_000_000)));
    }

    #[test]
    fn malformed_pksetexat_is_an_error() {
        let err = run(&[b"pksetexat", b"k", b"soon", b"v"]).unwrap_err();
        assert_eq!(err.to_string(), "cannot rewrite `pksetexat`: time is not an integer");
        let err = run(&[b"pksetexat", b"k", b"1"]).unwrap_err();
        assert_eq!(err.to_string(), "cannot rewrite `pksetexat`: expected 3 arguments");
    }

    #[test]
    fn other_commands_pass_unchanged() {
        for args in [&["expireat", "k", "1796661113"][..], &["PEXPIREAT", "k", "1796661214106"], &["srem", "s", "m"]] {
            let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            assert_eq!(run(&bytes).unwrap(), cmd(args));
        }
    }

    #[test]
    fn slot_keys_are_dropped_by_default() {
        let args: Vec<&[u8]> = vec![b"SADD", b"_internal:slotkey:4migrate:12", b"sk"];
        assert_eq!(run(&args).unwrap(), Rewritten::Skip(Skip::SlotKey));
        let keep = RewriteOptions { drop_slot_keys: false, ..RewriteOptions::default() };
        let got = rewrite(&Payload::Command(args), NOW_MS, &keep).unwrap();
        assert_eq!(got, cmd(&["SADD", "_internal:slotkey:4migrate:12", "sk"]));
        let tag: Vec<&[u8]> = vec![b"SREM", b"_internal:slottag:4migrate:3", b"k"];
        assert_eq!(run(&tag).unwrap(), Rewritten::Skip(Skip::SlotKey));
    }

    #[test]
    fn pfmerge_registers_are_refused_naming_the_key() {
        let mut registers = vec![0u8; PIKA_HLL_LEN];
        registers[7] = 3;
        let err = run(&[b"set", b"hll\xff", &registers]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"key "hll\xff" holds Pika's own HyperLogLog registers (a PFMERGE result), which Redis cannot read"#
        );
        registers[9] = 200;
        assert!(matches!(run(&[b"set", b"k", &registers]), Ok(Rewritten::Command(_))));
        assert!(matches!(run(&[b"pfadd", b"k", b"a", b"b"]), Ok(Rewritten::Command(_))));
    }

    #[test]
    fn fillers_are_skipped() {
        let got = rewrite(&Payload::Filler(Filler::Padding), NOW_MS, &RewriteOptions::default()).unwrap();
        assert_eq!(got, Rewritten::Skip(Skip::Filler(Filler::Padding)));
    }
}
