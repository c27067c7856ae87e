//! Streams (`src/types/redis_stream.cc`): entries, the stream's ids, consumer groups,
//! consumers and pending entries, all from the records (stream LogData carries no
//! command, except `8 XSETID`).
//!
//! | record | command |
//! |---|---|
//! | entry put / delete (XADD; XDEL, XTRIM, XADD's MAXLEN) | `XADD key <ms-seq> field value ...` / `XDEL key id...` |
//! | metadata put (ids changed) | `XSETID key <last-generated> ENTRIESADDED n MAXDELETEDID id` |
//! | group put with a metadata put (XGROUP CREATE) | `XGROUP CREATE key g <last-delivered> ENTRIESREAD n MKSTREAM` |
//! | group put alone (XGROUP SETID, XREADGROUP, XCLAIM, XACK bookkeeping) | `XGROUP SETID key g <last-delivered> ENTRIESREAD n` |
//! | group delete (XGROUP DESTROY) | `XGROUP DESTROY key g` (its consumer and pending deletes need nothing more) |
//! | consumer put / delete | `XGROUP CREATECONSUMER key g c` / `XGROUP DELCONSUMER key g c` |
//! | pending entry put (XREADGROUP, XCLAIM, XAUTOCLAIM) | `XCLAIM key g consumer 0 id TIME <delivery ms> RETRYCOUNT n FORCE JUSTID` |
//! | pending entry delete (XACK) | `XACK key g id` |
//! | a copied stream (RENAME, COPY) | `DEL key`, then all of the above from the copied records |
//!
//! `XSETID` is left out after a run of XADDs whose last id is the metadata's
//! last-generated id: XADD on the target moves the same ids.
//!
//! A checkpoint's stream too big to convert whole is written by the checkpoint reader
//! (`crate::snapshot`) with the same commands ([`subkey_command`] per row as for a copy,
//! then [`xsetid`]), a chunk of rows at a time.
//!
//! Representable: entries, last-generated id, entries-added, max-deleted id, groups'
//! last-delivered id and entries-read, consumers, pending entries with owner, delivery
//! time and delivery count. Not representable: consumers' seen-time/active-time (the
//! target's clock sets them), a group's lag (the target computes it), and a pending entry
//! whose stream entry is already deleted when it is claimed (Redis' XCLAIM ignores ids
//! that are not in the stream); the first-entry id Kvrocks records for XINFO follows
//! from the entries. A copied empty stream without groups is created with
//! `XADD key MAXLEN 0 <id> _ _` before its `XSETID`.

use std::borrow::Cow;

use super::arg::{id, int, lit, raw, Args};
use super::keys::{KeyRecords, SubRecord};
use super::{del, Converted, Rebuilt};
use crate::log_data::RedisLog;
use crate::metadata::Extra;
use crate::stream::{GroupMetadata, StreamId, StreamKey, StreamMetadata};
use crate::subkey::{SubKey, SubValue};

/// Converts a stream key.
pub(super) fn convert<'a>(log: Option<&RedisLog<'a>>, k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    let copy = k.is_copy(log);
    if copy {
        del(k, out);
    }
    let meta = k.metadata().and_then(|m| match m.extra {
        Extra::Stream(s) => Some(s),
        _ => None,
    });
    let creating = meta.is_some();
    let destroyed: Vec<&[u8]> = k.subs.iter().filter_map(destroyed_group).collect();
    for s in &k.subs {
        let is_destroyed = |group: &[u8]| destroyed.contains(&group);
        match record(k, s, creating, is_destroyed) {
            Ok(Some(args)) => out.push(k.namespace, args),
            Ok(None) => {}
            Err(what) => out.skip(s.offset, what),
        }
    }
    if let Some(meta) = meta {
        if copy && !k.subs.iter().any(creates_stream) {
            let first = StreamId { ms: 0, seq: 1 }.max(meta.last_generated_id);
            out.push(
                k.namespace,
                vec![lit("XADD"), raw(k.key), lit("MAXLEN"), lit("0"), id(first), lit("_"), lit("_")],
            );
        }
        if needs_setid(k, &meta) {
            out.push(k.namespace, xsetid(k.key, &meta));
        }
    }
    if copy {
        Rebuilt::Whole
    } else {
        Rebuilt::Partial
    }
}

fn record<'a>(
    k: &KeyRecords<'_, 'a>,
    s: &SubRecord<'_, 'a>,
    creating: bool,
    is_destroyed: impl Fn(&[u8]) -> bool,
) -> Result<Option<Args<'a>>, &'static str> {
    let SubKey::Stream(sub) = s.sub else { return Err("subkey that does not match its key's type") };
    match (*sub, s.value) {
        (StreamKey::Consumer { group, .. } | StreamKey::Pel { group, .. }, None) if is_destroyed(group) => Ok(None),
        (sub, value) => subkey_command(k.key, sub, value, creating).map(Some),
    }
}

/// The command for one record of a stream's subkeys (`value` is `None` for a delete):
/// `XADD`/`XDEL` for an entry, `XGROUP CREATE` (when `creating`: the stream's metadata is
/// rewritten with it) or `XGROUP SETID`/`DESTROY` for a group, `XGROUP
/// CREATECONSUMER`/`DELCONSUMER` for a consumer, `XCLAIM … FORCE JUSTID`/`XACK` for a
/// pending entry. The checkpoint reader writes big streams with it, row by row
/// (`crate::snapshot`).
pub(crate) fn subkey_command<'a>(
    key: &'a [u8],
    sub: StreamKey<'a>,
    value: Option<&SubValue<'a>>,
    creating: bool,
) -> Result<Args<'a>, &'static str> {
    let key = raw(key);
    Ok(match (sub, value) {
        (StreamKey::Entry(entry), Some(SubValue::StreamEntry(fields))) => {
            [lit("XADD"), key, id(entry)].into_iter().chain(fields.iter().map(raw)).collect()
        }
        (StreamKey::Entry(entry), None) => vec![lit("XDEL"), key, id(entry)],
        (StreamKey::Group { group }, Some(SubValue::Group(g))) => group_put(key, group, g, creating),
        (StreamKey::Group { group }, None) => vec![lit("XGROUP"), lit("DESTROY"), key, raw(group)],
        (StreamKey::Consumer { group, consumer }, Some(_)) => {
            vec![lit("XGROUP"), lit("CREATECONSUMER"), key, raw(group), raw(consumer)]
        }
        (StreamKey::Consumer { group, consumer }, None) => {
            vec![lit("XGROUP"), lit("DELCONSUMER"), key, raw(group), raw(consumer)]
        }
        (StreamKey::Pel { group, id: entry }, Some(SubValue::Pel(pel))) => {
            let (time, count) = (int(pel.last_delivery_time_ms), int(pel.last_delivery_count));
            let args = [lit("XCLAIM"), key, raw(group), raw(pel.consumer), lit("0"), id(entry), lit("TIME"), time];
            args.into_iter().chain([lit("RETRYCOUNT"), count, lit("FORCE"), lit("JUSTID")]).collect()
        }
        (StreamKey::Pel { group, id: entry }, None) => vec![lit("XACK"), key, raw(group), id(entry)],
        _ => return Err("stream subkey with an undecodable value"),
    })
}

/// A group put: a creation when the run also rewrites the stream's metadata (its group
/// count changed: XGROUP CREATE, or a copy), else a move of its last-delivered id.
fn group_put<'a>(key: Cow<'a, [u8]>, group: &'a [u8], g: &GroupMetadata, creating: bool) -> Args<'a> {
    let (last, read) = (id(g.last_delivered_id), int(g.entries_read));
    if creating {
        vec![lit("XGROUP"), lit("CREATE"), key, raw(group), last, lit("ENTRIESREAD"), read, lit("MKSTREAM")]
    } else {
        vec![lit("XGROUP"), lit("SETID"), key, raw(group), last, lit("ENTRIESREAD"), read]
    }
}

fn destroyed_group<'a>(s: &SubRecord<'_, 'a>) -> Option<&'a [u8]> {
    match (s.sub, s.value) {
        (SubKey::Stream(StreamKey::Group { group }), None) => Some(group),
        _ => None,
    }
}

/// Records after which the stream exists on the target.
fn creates_stream(s: &SubRecord<'_, '_>) -> bool {
    matches!((s.sub, s.value), (SubKey::Stream(StreamKey::Entry(_) | StreamKey::Group { .. }), Some(_)))
}

/// Whether XSETID is needed: not after XADDs alone that end at the last-generated id.
fn needs_setid(k: &KeyRecords<'_, '_>, meta: &StreamMetadata) -> bool {
    let mut added = None;
    for s in &k.subs {
        match (s.sub, s.value) {
            (SubKey::Stream(StreamKey::Entry(entry)), Some(_)) => added = Some(*entry),
            _ => return true,
        }
    }
    added != Some(meta.last_generated_id)
}

/// `XSETID key <last-generated> ENTRIESADDED n MAXDELETEDID id`: the stream's ids as its
/// metadata holds them (also the last command of a big stream the checkpoint reader copies).
pub(crate) fn xsetid<'a>(key: &'a [u8], meta: &StreamMetadata) -> Args<'a> {
    vec![
        lit("XSETID"),
        raw(key),
        id(meta.last_generated_id),
        lit("ENTRIESADDED"),
        int(meta.entries_added),
        lit("MAXDELETEDID"),
        id(meta.max_deleted_entry_id),
    ]
}

#[cfg(test)]
mod tests {
    use crate::convert::tests::{commands, meta, meta_key, strings, sub_key, Rep};

    fn be(parts: &[u64]) -> Vec<u8> {
        parts.iter().flat_map(|p| p.to_be_bytes()).collect()
    }

    /// Stream metadata: last generated, recorded first, max deleted, first, last, added, groups.
    fn stream_meta(size: u64, last: u64, max_deleted: u64, added: u64, groups: u64) -> Vec<u8> {
        meta(8, 0, size, &be(&[5, last, 5, 1, 5, max_deleted, 5, 1, 5, last, added, groups]))
    }

    fn named(kind: u8, group: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut out = be(&[u64::MAX]);
        out.push(kind);
        out.extend_from_slice(&be(&[group.len() as u64]));
        out.extend_from_slice(group);
        out.extend_from_slice(rest);
        out
    }

    #[test]
    fn xadd_needs_no_xsetid_but_xdel_does() {
        let rep = Rep::default().log("8").put(5, &sub_key("st", &be(&[5, 3])), b"\x01f\x02v3").put(
            1,
            &meta_key("st"),
            &stream_meta(3, 3, 0, 3, 0),
        );
        assert_eq!(commands(&rep), strings(&[&["XADD", "st", "5-3", "f", "v3"]]));
        let rep = Rep::default().log("8").del(5, &sub_key("st", &be(&[5, 2]))).put(
            1,
            &meta_key("st"),
            &stream_meta(2, 3, 2, 3, 0),
        );
        let want: &[&[&str]] =
            &[&["XDEL", "st", "5-2"], &["XSETID", "st", "5-3", "ENTRIESADDED", "3", "MAXDELETEDID", "5-2"]];
        assert_eq!(commands(&rep), strings(want));
    }

    #[test]
    fn groups_consumers_and_pending_entries() {
        let group = be(&[0, 0, 0, 0, u64::MAX, 0]);
        let rep = Rep::default().log("8").put(5, &sub_key("st", &named(1, b"g", b"")), &group).put(
            1,
            &meta_key("st"),
            &stream_meta(0, 0, 0, 0, 1),
        );
        let create = ["XGROUP", "CREATE", "st", "g", "0-0", "ENTRIESREAD", "-1", "MKSTREAM"];
        let setid = ["XSETID", "st", "5-0", "ENTRIESADDED", "0", "MAXDELETEDID", "5-0"];
        assert_eq!(commands(&rep), strings(&[&create, &setid]));

        let mut pel = be(&[1_700, 2]);
        pel.extend_from_slice(&be(&[1]));
        pel.extend_from_slice(b"c");
        let rep = Rep::default()
            .log("8")
            .put(5, &sub_key("st", &named(3, b"g", &be(&[5, 1]))), &pel)
            .put(5, &sub_key("st", &named(1, b"g", b"")), &be(&[1, 1, 5, 1, 1, 0]))
            .put(5, &sub_key("st", &named(2, b"g", &[&be(&[1])[..], b"c"].concat())), &be(&[1, 9, 9]))
            .del(5, &sub_key("st", &named(3, b"g", &be(&[5, 0]))));
        let want: &[&[&str]] = &[
            &["XCLAIM", "st", "g", "c", "0", "5-1", "TIME", "1700", "RETRYCOUNT", "2", "FORCE", "JUSTID"],
            &["XGROUP", "SETID", "st", "g", "5-1", "ENTRIESREAD", "1"],
            &["XGROUP", "CREATECONSUMER", "st", "g", "c"],
            &["XACK", "st", "g", "5-0"],
        ];
        assert_eq!(commands(&rep), strings(want));
    }

    #[test]
    fn destroying_a_group_covers_its_consumers_and_pending_entries() {
        let rep = Rep::default()
            .log("8")
            .del(5, &sub_key("st", &named(2, b"g", &[&be(&[1])[..], b"c"].concat())))
            .del(5, &sub_key("st", &named(3, b"g", &be(&[5, 1]))))
            .del(5, &sub_key("st", &named(1, b"g", b"")))
            .put(1, &meta_key("st"), &stream_meta(0, 0, 0, 0, 0));
        let setid = ["XSETID", "st", "5-0", "ENTRIESADDED", "0", "MAXDELETEDID", "5-0"];
        assert_eq!(commands(&rep), strings(&[&["XGROUP", "DESTROY", "st", "g"], &setid]));
    }

    #[test]
    fn a_copied_empty_stream_is_created() {
        let rep = Rep::default().log("8").put(1, &meta_key("st"), &stream_meta(0, 0, 0, 4, 0)).put(
            5,
            &sub_key("other", &be(&[1, 1])),
            b"\x01f\x01v",
        );
        // `st` holds nothing (no entry, no group): rebuilt whole, created empty with its ids.
        let cmds = commands(&rep);
        assert_eq!(cmds[0], ["DEL", "st"]);
        assert_eq!(cmds[1], ["XADD", "st", "MAXLEN", "0", "5-0", "_", "_"]);
        assert_eq!(cmds[2], ["XSETID", "st", "5-0", "ENTRIESADDED", "4", "MAXDELETEDID", "5-0"]);
        // With a group (its subkeys not in the run), only the ids move.
        let rep = Rep::default().log("8").put(1, &meta_key("st"), &stream_meta(0, 0, 0, 4, 1));
        assert_eq!(commands(&rep)[0], ["XSETID", "st", "5-0", "ENTRIESADDED", "4", "MAXDELETEDID", "5-0"]);
    }
}
