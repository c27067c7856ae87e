//! Collections whose metadata `size` counts their subkeys and whose subkeys hold their
//! state: hash, set, zset and sortedint.
//!
//! | record | command |
//! |---|---|
//! | hash field put / delete | `HSET key field value` / `HDEL key field` |
//! | set member put / delete | `SADD key member` / `SREM key member` |
//! | zset member put / delete (default CF) | `ZADD key <score> member` / `ZREM key member` |
//! | sortedint id put / delete | `ZADD key id id` / `ZREM key id` (a zset with score = id) |
//! | zset score index (zset_score CF) | nothing: the member records carry the same scores |
//! | metadata put | nothing, unless the run holds the whole value |
//!
//! Consecutive records of one kind are merged into one variadic command (up to
//! [`MAX_ITEMS`] items). Scores are written as shortest round-trip text, so the target
//! holds the exact double (`0.1` reads back as `0.10000000000000001`, like Kvrocks).
//! When the run holds the key's whole value ([`KeyRecords::is_whole`]: created, or
//! replaced by RENAME/COPY/`*STORE`), the key is deleted and rebuilt from the live
//! records, which is exact whatever the target held.
//!
//! Not converted: subkeys of another type under these keys (reported).

use std::borrow::Cow;

use super::arg::{double, int, lit, raw, Args};
use super::keys::{KeyRecords, SubRecord};
use super::{del, Converted, Rebuilt};
use crate::cf::ColumnFamily;
use crate::subkey::{SubKey, SubValue};

/// Most items (fields, members) one merged command carries.
pub(super) const MAX_ITEMS: usize = 512;

/// Converts a hash, set, zset or sortedint key.
pub(super) fn convert<'a>(k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    if k.is_whole() {
        del(k, out);
        let ops = k.live_puts(ColumnFamily::PrimarySubkey).filter_map(|s| op(s).ok().flatten());
        emit_merged(k, ops, out);
        return Rebuilt::Whole;
    }
    let mut ops = Vec::new();
    for s in &k.subs {
        match op(s) {
            Ok(Some(op)) => ops.push(op),
            Ok(None) => {}
            Err(what) => out.skip(s.offset, what),
        }
    }
    emit_merged(k, ops, out);
    Rebuilt::Partial
}

/// A command name and the arguments one record adds to it.
type Op<'a> = (&'static str, Args<'a>);

/// The command part for one record; `Ok(None)` for records that need none.
fn op<'a>(s: &SubRecord<'_, 'a>) -> Result<Option<Op<'a>>, &'static str> {
    Ok(Some(match (*s.sub, s.value) {
        (SubKey::HashField(field), Some(SubValue::Bytes(value))) => ("HSET", vec![raw(field), raw(value)]),
        (SubKey::HashField(field), None) => ("HDEL", vec![raw(field)]),
        (SubKey::SetMember(member), Some(_)) => ("SADD", vec![raw(member)]),
        (SubKey::SetMember(member), None) => ("SREM", vec![raw(member)]),
        (SubKey::ZSetMember(member), Some(SubValue::Score(score))) => ("ZADD", vec![double(*score), raw(member)]),
        (SubKey::ZSetMember(member), None) => ("ZREM", vec![raw(member)]),
        (SubKey::ZSetScore { .. }, _) => return Ok(None),
        (SubKey::SortedintId(id), Some(_)) => ("ZADD", vec![int(id), int(id)]),
        (SubKey::SortedintId(id), None) => ("ZREM", vec![int(id)]),
        _ => return Err("subkey that does not match its key's type"),
    }))
}

/// Pushes `ops`, merging runs of the same command into one (bounded) command.
fn emit_merged<'a>(k: &KeyRecords<'_, 'a>, ops: impl IntoIterator<Item = Op<'a>>, out: &mut Converted<'a>) {
    let mut current: Option<(&'static str, Args<'a>, usize)> = None;
    for (name, tail) in ops {
        match &mut current {
            Some((open, args, items)) if *open == name && *items < MAX_ITEMS => {
                args.extend(tail);
                *items += 1;
            }
            _ => {
                if let Some((_, args, _)) = current.take() {
                    out.push(k.namespace, args);
                }
                let mut args: Vec<Cow<'a, [u8]>> = vec![lit(name), raw(k.key)];
                args.extend(tail);
                current = Some((name, args, 1));
            }
        }
    }
    if let Some((_, args, _)) = current {
        out.push(k.namespace, args);
    }
}

#[cfg(test)]
mod tests {
    use crate::convert::tests::{commands, meta, meta_key, score, strings, sub_key, Rep};

    #[test]
    fn hash_fields_merge_and_the_size_update_needs_nothing() {
        let rep = Rep::default()
            .log("2")
            .put(0, &sub_key("h", b"f1"), b"v1")
            .put(0, &sub_key("h", b"f2"), b"v2")
            .del(0, &sub_key("h", b"f0"))
            .put(1, &meta_key("h"), &meta(2, 0, 5, b""));
        assert_eq!(commands(&rep), strings(&[&["HSET", "h", "f1", "v1", "f2", "v2"], &["HDEL", "h", "f0"]]));
    }

    #[test]
    fn a_whole_value_is_rebuilt_after_a_del_with_its_expiry() {
        // COPY of a set with an expiry: metadata first, then every member.
        let rep = Rep::default()
            .log("4")
            .put(1, &meta_key("s"), &meta(4, 7, 2, b""))
            .put(0, &sub_key("s", b"a"), b"")
            .put(0, &sub_key("s", b"b"), b"");
        assert_eq!(commands(&rep), strings(&[&["DEL", "s"], &["SADD", "s", "a", "b"], &["PEXPIREAT", "s", "7"]]));
    }

    #[test]
    fn zset_scores_are_exact_and_the_index_is_not_replayed() {
        let mut index = score(0.1);
        index.extend_from_slice(b"m");
        let rep = Rep::default()
            .log("5")
            .put(0, &sub_key("z", b"m"), &score(0.1))
            .put(2, &sub_key("z", &index), b"")
            .del(0, &sub_key("z", b"gone"))
            .put(1, &meta_key("z"), &meta(5, 0, 9, b""));
        assert_eq!(commands(&rep), strings(&[&["ZADD", "z", "0.1", "m"], &["ZREM", "z", "gone"]]));
        let rep = Rep::default().log("5").put(0, &sub_key("z", b"m"), &score(f64::NEG_INFINITY));
        assert_eq!(commands(&rep), strings(&[&["ZADD", "z", "-inf", "m"]]));
    }

    #[test]
    fn sortedint_becomes_a_zset_scored_by_id() {
        let rep = Rep::default()
            .log("7")
            .put(0, &sub_key("si", &9u64.to_be_bytes()), b"")
            .del(0, &sub_key("si", &5u64.to_be_bytes()))
            .put(1, &meta_key("si"), &meta(7, 0, 3, b""));
        assert_eq!(commands(&rep), strings(&[&["ZADD", "si", "9", "9"], &["ZREM", "si", "5"]]));
    }
}
