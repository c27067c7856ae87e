//! Streams in layouts 1-4 (types 15, 19, 21, 26): one value laid out as `rdbSaveObject`
//! writes each revision, the events it must decode to, and layouts 1-3 parsed (layout 4,
//! RDB 13, is in `redis13`).

use replicant_rdb::{Encoding, Flavor};

use crate::support::collect::{b, id, parse_ok, Ev, Idmp, Meta};
use crate::support::writer::{listpack, Lp, RdbWriter};
use crate::{crc_of, put, T0};

/// A stream value in layout `rev` (1-4 = types 15, 19, 21, 26), laid out as
/// rdbSaveObject writes it (redis@39518acb src/rdb.c; the per-revision parts are the ones
/// rdbLoadObject reads under `rdbtype >= RDB_TYPE_STREAM_LISTPACKS_2/_3/_4`).
///
/// One listpack node with master ID T0-0: a same-fields entry T0-0 {a: 1, b: two}, a
/// deleted same-fields entry T0+3-0, and an own-fields entry T0+5-1 {c: 3}. One group "g"
/// with one pending entry owned by consumer "alice".
pub(crate) fn stream_value(rev: u8, entries_read: i64) -> Vec<u8> {
    // t_stream.c: master entry `count, deleted, num-fields, f1..fN, 0`; each entry
    // `flags, ms-diff, seq-diff, [num-fields, f, v...] | [v... if SAMEFIELDS], lp-count`.
    let lp = listpack(
        &[
            // master entry: 2 entries, 1 deleted, fields a and b
            &[Lp::Int(2), Lp::Int(1), Lp::Int(2), Lp::Str(b"a"), Lp::Str(b"b"), Lp::Int(0)][..],
            // flags SAMEFIELDS(2), id T0-0
            &[Lp::Int(2), Lp::Int(0), Lp::Int(0), Lp::Int(1), Lp::Str(b"two"), Lp::Int(5)],
            // flags SAMEFIELDS|DELETED (3), id T0+3-0
            &[Lp::Int(3), Lp::Int(3), Lp::Int(0), Lp::Str(b"x"), Lp::Str(b"y"), Lp::Int(5)],
            // own fields, id T0+5-1
            &[Lp::Int(0), Lp::Int(5), Lp::Int(1), Lp::Int(1), Lp::Str(b"c"), Lp::Int(3), Lp::Int(6)],
        ]
        .concat(),
    );
    let t0 = T0 as u64;
    let mut master = RdbWriter::fragment();
    master.raw_id(t0, 0);
    let mut v = RdbWriter::fragment();
    v.len(1).string(master.bytes()).string(&lp);
    // length, last_id
    v.len(2).len_id(t0 + 5, 1);
    if rev >= 2 {
        // first_id, max_deleted_entry_id, entries_added
        v.len_id(t0, 0).len_id(t0 + 3, 0).len(3);
    }
    // groups: name, last_id, [entries_read], PEL (raw ID, delivery ms, count),
    // consumers (name, seen, [active], PEL of raw IDs)
    v.len(1).string(b"g").len_id(t0 + 5, 1);
    if rev >= 2 {
        v.len_signed(entries_read);
    }
    v.len(1).raw_id(t0, 0).millis(T0 + 100).len(2);
    v.len(1).string(b"alice").millis(T0 + 200);
    if rev >= 3 {
        v.millis(T0 + 150);
    }
    v.len(1).raw_id(t0, 0);
    if rev >= 4 {
        // IDMP (rdbSaveObject after the consumer groups): duration, max entries,
        // rdbSaveStreamIdmpEntries (num producers; per producer pid, count, then
        // count x (iid string, id.ms, id.seq)), iids_added, iids_duplicates.
        v.len(100).len(50).len(2);
        v.string(b"p1").len(2);
        v.string(b"iid-1").len_id(t0, 0);
        v.string(b"iid-2").len_id(t0 + 5, 1);
        v.string(b"p2").len(1);
        v.int_string(77).len_id(t0, 0); // a numeric IID is integer-encoded
        v.len(3).len(1);
    }
    v.into_bytes()
}

/// The pieces of [`stream_value`]`(rev, ..)`, from the entries to the IDMP block.
pub(crate) fn stream_events(rev: u8, entries_read: Option<u64>) -> Vec<Ev> {
    let t0 = T0 as u64;
    let mut evs = vec![
        Ev::Entries(vec![
            (id(t0, 0), vec![(b("a"), b("1")), (b("b"), b("two"))]),
            (id(t0 + 5, 1), vec![(b("c"), b("3"))]),
        ]),
        Ev::Meta(Meta {
            length: 2,
            last_id: id(t0 + 5, 1),
            first_id: (rev >= 2).then_some(id(t0, 0)),
            max_deleted_id: (rev >= 2).then_some(id(t0 + 3, 0)),
            entries_added: (rev >= 2).then_some(3),
        }),
        Ev::Group { name: b("g"), last_id: id(t0 + 5, 1), entries_read },
        Ev::GroupPending(vec![(id(t0, 0), T0 + 100, 2)]),
        Ev::Consumer { name: b("alice"), seen_ms: T0 + 200, active_ms: (rev >= 3).then_some(T0 + 150) },
        Ev::ConsumerPending(vec![id(t0, 0)]),
    ];
    if rev >= 4 {
        evs.push(Ev::Idmp(Idmp { duration: 100, max_entries: 50, producers: 2 }));
    }
    evs
}

/// Layout 1 has no first/max-deleted IDs, entries_added or entries_read; layout 2 adds
/// them; layout 3 adds each consumer's active time after its seen time; layout 4 adds the
/// IDMP block after the groups (tested in `redis13`).
#[test]
fn stream_layouts_1_to_3() {
    for (rev, type_byte, version, entries_read, expect_read) in [
        (1u8, 15u8, 9u32, 0i64, None),
        (2, 19, 10, 1, Some(1)),
        (2, 19, 10, -1, Some(u64::MAX)),
        (3, 21, 11, 2, Some(2)),
        (3, 21, 11, -1, Some(u64::MAX)),
    ] {
        let mut f = RdbWriter::new(version);
        let s = put(&mut f, type_byte, b"s", &stream_value(rev, entries_read));
        let data = f.finish();
        let mut expected =
            vec![Ev::Header(Flavor::Redis, version), Ev::Key(s.key(0, Encoding::Stream(rev), version as u16))];
        expected.extend(stream_events(rev, expect_read));
        expected.extend([s.key_end(), Ev::End(crc_of(&data))]);
        assert_eq!(parse_ok(&data), expected, "stream layout {rev}");
    }
}

/// Valkey 9 still writes type 21 for every stream (valkey@008734ee src/rdb.c
/// rdbSaveObjectType: `case OBJ_STREAM: return rdbSaveType(rdb, RDB_TYPE_STREAM_LISTPACKS_3);`).
#[test]
fn valkey080_stream3() {
    let mut f = RdbWriter::valkey(80);
    let s = put(&mut f, 21, b"s", &stream_value(3, 9));
    let data = f.finish();
    let mut expected = vec![Ev::Header(Flavor::Valkey, 80), Ev::Key(s.key(0, Encoding::Stream(3), 80))];
    expected.extend(stream_events(3, Some(9)));
    expected.extend([s.key_end(), Ev::End(crc_of(&data))]);
    assert_eq!(parse_ok(&data), expected);
}
