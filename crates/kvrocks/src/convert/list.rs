//! Lists. Kvrocks stores elements at absolute indices and shifts them on LINSERT/LREM,
//! so the records alone do not say where an element sits in the target's list; the
//! LogData names the command (`src/types/redis_list.cc`) and that command is replayed,
//! with its element taken from the records where the LogData may have mangled it.
//!
//! | LogData | command |
//! |---|---|
//! | `3 6` / `3 7` (LPUSH/RPUSH, LPUSHX/RPUSHX) | `LPUSH`/`RPUSH key <elements from the records, in push order>` |
//! | `3 3` / `3 4` (LPOP/RPOP, BLPOP, LMPOP...) | `LPOP`/`RPOP key <count of deleted elements>` |
//! | `3 0 <index>` (LSET; index already made non-negative) | `LSET key index <element from the record>` |
//! | `3 1 <1\|0> <pivot> <element>` (LINSERT) | `LINSERT key BEFORE\|AFTER pivot element` |
//! | `3 5 <count> <element>` (LREM) | `LREM key count element` |
//! | `3 2 <start> <stop>` (LTRIM) | `LTRIM key start stop` |
//! | `3 12 <src> <dst> <from> <to>` (LMOVE, RPOPLPUSH, BLMOVE) | `LMOVE src dst FROM TO`, keys from the records |
//! | `3` alone (RENAME, COPY) with the whole list | `DEL key`, `RPUSH key <elements in index order>` |
//!
//! Kvrocks joins LogData arguments with spaces, so an element or pivot holding a space
//! is split wrongly; the converter does not split them: the inserted element is the last
//! element the LINSERT wrote, the pivot is what lies between the direction and that
//! element, LREM's element is the rest of the LogData after the count, and LMOVE's keys
//! come from the records. Whenever the run holds the whole list (a new or replaced key),
//! it is rebuilt from the records instead, except for LMOVE (the source must move too).
//!
//! Not converted (reported): list records under a LogData without a list command that do
//! not hold the whole list, and LINSERT LogData whose pivot cannot be separated from the
//! element (not written by Kvrocks 2.10).

use super::arg::{int, lit, raw, Args};
use super::keys::{KeyRecords, SubRecord};
use super::{del, Converted, Rebuilt, Run};
use crate::cf::ColumnFamily;
use crate::log_data::{parse_decimal, RedisCommand, RedisLog};
use crate::metadata::RedisType;
use crate::subkey::{SubKey, SubValue};

/// Why a list run could not be converted.
type Failure = &'static str;

/// Converts a list key.
pub(super) fn convert<'a>(run: &Run<'_, '_, 'a>, k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    // EXPIRE, PEXPIREAT, PERSIST on a list: its metadata alone, which `expiry` converts.
    let expire_only = k.subs.is_empty() && run.log.and_then(RedisLog::command) == Some(RedisCommand::Expire);
    if expire_only {
        return Rebuilt::Partial;
    }
    let log = run.log.filter(|l| l.redis_type() == Some(RedisType::List));
    let command = log.and_then(RedisLog::command);
    if command != Some(RedisCommand::LMove) && k.is_whole() {
        del(k, out);
        let elements = elements(k.live_puts(ColumnFamily::PrimarySubkey).copied().collect(), true);
        for chunk in elements.chunks(super::collection::MAX_ITEMS) {
            let mut args = vec![lit("RPUSH"), raw(k.key)];
            args.extend(chunk.iter().map(|e| raw(e)));
            out.push(k.namespace, args);
        }
        return Rebuilt::Whole;
    }
    let result = match (command, log) {
        (Some(RedisCommand::LPush), _) => Ok(push(k, "LPUSH", false)),
        (Some(RedisCommand::RPush), _) => Ok(push(k, "RPUSH", true)),
        (Some(RedisCommand::LPop), _) => Ok(pop(k, "LPOP")),
        (Some(RedisCommand::RPop), _) => Ok(pop(k, "RPOP")),
        (Some(RedisCommand::LSet), Some(log)) => lset(log, k),
        (Some(RedisCommand::LInsert), Some(log)) => linsert(log, k),
        (Some(RedisCommand::LRem), Some(log)) => lrem(log, k),
        (Some(RedisCommand::LTrim), Some(log)) => ltrim(log, k),
        (Some(RedisCommand::LMove), Some(log)) => lmove(run, log, k),
        _ => Err("list records without a list command in the LogData, not holding the whole list"),
    };
    match result {
        Ok(Some(args)) => out.push(k.namespace, args),
        Ok(None) => {}
        Err(what) => {
            k.sub_offsets().for_each(|offset| out.skip(offset, what));
            if let (true, Some((offset, _))) = (k.subs.is_empty(), k.meta) {
                out.skip(offset, what);
            }
        }
    }
    Rebuilt::Partial
}

/// The elements of list puts, by index (ascending or descending).
fn elements<'a>(mut puts: Vec<SubRecord<'_, 'a>>, ascending: bool) -> Vec<&'a [u8]> {
    puts.sort_by_key(|s| index(s));
    if !ascending {
        puts.reverse();
    }
    puts.iter().filter_map(element).collect()
}

fn index(s: &SubRecord<'_, '_>) -> u64 {
    match s.sub {
        SubKey::ListIndex(i) => *i,
        _ => 0,
    }
}

fn element<'a>(s: &SubRecord<'_, 'a>) -> Option<&'a [u8]> {
    match (s.sub, s.value) {
        (SubKey::ListIndex(_), Some(SubValue::Bytes(e))) => Some(e),
        _ => None,
    }
}

fn puts<'g, 'a>(k: &KeyRecords<'g, 'a>) -> Vec<SubRecord<'g, 'a>> {
    k.subs.iter().filter(|s| element(s).is_some()).copied().collect()
}

/// LPUSH writes its elements at decreasing indices, RPUSH at increasing ones: pushing
/// them in that order from the old end rebuilds the same list.
fn push<'a>(k: &KeyRecords<'_, 'a>, name: &'static str, ascending: bool) -> Option<Args<'a>> {
    let elements = elements(puts(k), ascending);
    (!elements.is_empty()).then(|| [lit(name), raw(k.key)].into_iter().chain(elements.into_iter().map(raw)).collect())
}

fn pop<'a>(k: &KeyRecords<'_, 'a>, name: &'static str) -> Option<Args<'a>> {
    let count = k.subs.iter().filter(|s| s.value.is_none()).count();
    (count > 0).then(|| vec![lit(name), raw(k.key), int(count)])
}

fn lset<'a>(log: &RedisLog<'a>, k: &KeyRecords<'_, 'a>) -> Result<Option<Args<'a>>, Failure> {
    let index = log.arg(1).and_then(parse_decimal).ok_or("LSET LogData without an index")?;
    let element = puts(k).last().and_then(element).ok_or("LSET without its element record")?;
    Ok(Some(vec![lit("LSET"), raw(k.key), int(index), raw(element)]))
}

fn linsert<'a>(log: &RedisLog<'a>, k: &KeyRecords<'_, 'a>) -> Result<Option<Args<'a>>, Failure> {
    const BAD: Failure = "LINSERT LogData whose pivot cannot be separated from the element";
    let element = puts(k).last().and_then(element).ok_or("LINSERT without its element record")?;
    let (before, rest) = match log.raw_args().strip_prefix(b"1 ") {
        Some([b'1', b' ', rest @ ..]) => ("BEFORE", rest),
        Some([b'0', b' ', rest @ ..]) => ("AFTER", rest),
        _ => return Err(BAD),
    };
    let pivot = rest.strip_suffix(element).and_then(|p| p.strip_suffix(b" ")).ok_or(BAD)?;
    Ok(Some(vec![lit("LINSERT"), raw(k.key), lit(before), raw(pivot), raw(element)]))
}

fn lrem<'a>(log: &RedisLog<'a>, k: &KeyRecords<'_, 'a>) -> Result<Option<Args<'a>>, Failure> {
    let mut parts = log.raw_args().splitn(3, |b| *b == b' ');
    let (_, count, element) = (parts.next(), parts.next(), parts.next());
    let (Some(count), Some(element)) = (count, element) else { return Err("LREM LogData without count and element") };
    Ok(Some(vec![lit("LREM"), raw(k.key), raw(count), raw(element)]))
}

fn ltrim<'a>(log: &RedisLog<'a>, k: &KeyRecords<'_, 'a>) -> Result<Option<Args<'a>>, Failure> {
    let (Some(start), Some(stop)) = (log.arg(1), log.arg(2)) else { return Err("LTRIM LogData without a range") };
    Ok(Some(vec![lit("LTRIM"), raw(k.key), raw(start), raw(stop)]))
}

/// One LMOVE for the destination (the key with a put); the source is the run's key with
/// a deleted element (the same key when a list rotates).
fn lmove<'a>(run: &Run<'_, '_, 'a>, log: &RedisLog<'a>, k: &KeyRecords<'_, 'a>) -> Result<Option<Args<'a>>, Failure> {
    if puts(k).is_empty() {
        return Ok(None); // the source: moved by the destination's LMOVE
    }
    let has_delete = |key: &KeyRecords<'_, 'a>| key.subs.iter().any(|s| s.value.is_none());
    let source = if has_delete(k) { Some(k) } else { run.keys.iter().find(|key| has_delete(key)) };
    let source = source.ok_or("LMOVE without the source's deleted element")?;
    let args: Vec<&[u8]> = log.args().collect();
    let [.., from, to] = args[..] else { return Err("LMOVE LogData without directions") };
    Ok(Some(vec![lit("LMOVE"), raw(source.key), raw(k.key), direction(from)?, direction(to)?]))
}

fn direction(word: &[u8]) -> Result<std::borrow::Cow<'static, [u8]>, Failure> {
    match word {
        b"left" => Ok(lit("LEFT")),
        b"right" => Ok(lit("RIGHT")),
        _ => Err("LMOVE LogData with a direction other than left/right"),
    }
}

#[cfg(test)]
mod tests {
    use crate::convert::tests::{commands, commands_with, meta, meta_key, strings, sub_key, Rep};
    use crate::convert::Options;

    const MID: u64 = u64::MAX / 2;

    fn at(i: u64) -> Vec<u8> {
        i.to_be_bytes().to_vec()
    }

    fn list_meta(size: u64, head: u64, tail: u64) -> Vec<u8> {
        let mut extra = head.to_be_bytes().to_vec();
        extra.extend_from_slice(&tail.to_be_bytes());
        meta(3, 0, size, &extra)
    }

    #[test]
    fn pushes_keep_their_order() {
        // LPUSH l a b onto [x]: a at head-1, b at head-2.
        let rep = Rep::default()
            .log("3 6")
            .put(0, &sub_key("l", &at(MID - 1)), b"a")
            .put(0, &sub_key("l", &at(MID - 2)), b"b")
            .put(1, &meta_key("l"), &list_meta(3, MID - 2, MID + 1));
        assert_eq!(commands(&rep), strings(&[&["LPUSH", "l", "a", "b"]]));
        let rep = Rep::default()
            .log("3 7")
            .put(0, &sub_key("l", &at(MID + 1)), b"a")
            .put(0, &sub_key("l", &at(MID + 2)), b"b")
            .put(1, &meta_key("l"), &list_meta(3, MID, MID + 3));
        assert_eq!(commands(&rep), strings(&[&["RPUSH", "l", "a", "b"]]));
    }

    #[test]
    fn expire_and_persist_on_a_list_touch_only_its_expiry() {
        let mut expiring = list_meta(2, MID - 1, MID + 1);
        let at = 4_102_444_800_000u64;
        expiring.splice(1..9, at.to_be_bytes());
        let rep = Rep::default().log("0 8").put(1, &meta_key("l"), &expiring);
        assert_eq!(commands(&rep), strings(&[&["PEXPIREAT", "l", "4102444800000"]]));
        let rep = Rep::default().log("0 8").put(1, &meta_key("l"), &list_meta(2, MID - 1, MID + 1));
        assert_eq!(commands(&rep), strings(&[&["PERSIST", "l"]]));
    }

    #[test]
    fn a_new_list_is_rebuilt() {
        let rep = Rep::default()
            .log("3 6")
            .put(0, &sub_key("l", &at(MID - 1)), b"a")
            .put(0, &sub_key("l", &at(MID - 2)), b"b")
            .put(1, &meta_key("l"), &list_meta(2, MID - 2, MID));
        assert_eq!(commands(&rep), strings(&[&["DEL", "l"], &["RPUSH", "l", "b", "a"]]));
    }

    #[test]
    fn pops_count_their_deletes_and_an_emptied_list_is_deleted() {
        let rep = Rep::default()
            .log("3 4")
            .del(0, &sub_key("l", &at(MID + 4)))
            .del(0, &sub_key("l", &at(MID + 3)))
            .put(1, &meta_key("l"), &list_meta(3, MID, MID + 3));
        assert_eq!(commands(&rep), strings(&[&["RPOP", "l", "2"]]));
        let rep = Rep::default().log("3 3").del(0, &sub_key("l", &at(MID))).del(1, &meta_key("l"));
        assert_eq!(commands(&rep), strings(&[&["DEL", "l"]]));
    }

    #[test]
    fn arguments_with_spaces_survive() {
        let rep = Rep::default()
            .log("3 1 0 my pivot new elem")
            .put(0, &sub_key("l", &at(MID + 3)), b"z")
            .put(0, &sub_key("l", &at(MID + 2)), b"new elem")
            .put(1, &meta_key("l"), &list_meta(9, MID, MID + 9));
        assert_eq!(commands(&rep), strings(&[&["LINSERT", "l", "AFTER", "my pivot", "new elem"]]));
        let rep = Rep::default().log("3 5 -2 a  b").del(0, &sub_key("l", &at(MID))).put(
            1,
            &meta_key("l"),
            &list_meta(8, MID + 1, MID + 9),
        );
        assert_eq!(commands(&rep), strings(&[&["LREM", "l", "-2", "a  b"]]));
        let rep = Rep::default().log("3 0 4").put(0, &sub_key("l", &at(MID + 4)), b"x y");
        assert_eq!(commands(&rep), strings(&[&["LSET", "l", "4", "x y"]]));
        let rep = Rep::default().log("3 2 1 3").del(0, &sub_key("l", &at(MID))).put(
            1,
            &meta_key("l"),
            &list_meta(3, MID + 1, MID + 4),
        );
        assert_eq!(commands(&rep), strings(&[&["LTRIM", "l", "1", "3"]]));
    }

    #[test]
    fn lmove_takes_its_keys_from_the_records_and_deletes_the_emptied_source() {
        let rep = Rep::default()
            .log("3 12 s 1 d 2 left right")
            .del(0, &sub_key("s 1", &at(MID)))
            .del(1, &meta_key("s 1"))
            .put(0, &sub_key("d 2", &at(MID + 5)), b"e")
            .put(1, &meta_key("d 2"), &list_meta(6, MID, MID + 6));
        assert_eq!(commands(&rep), strings(&[&["LMOVE", "s 1", "d 2", "LEFT", "RIGHT"], &["DEL", "s 1"]]));
    }

    #[test]
    fn partial_records_without_a_command_are_reported() {
        let rep = Rep::default().log("3").put(0, &sub_key("l", &at(MID)), b"x");
        let (cmds, skipped) = commands_with(&rep, Options::default());
        assert!(cmds.is_empty());
        assert_eq!(skipped, ["list records without a list command in the LogData, not holding the whole list"]);
    }
}
