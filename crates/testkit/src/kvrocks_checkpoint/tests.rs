//! Checks of the writer against Kvrocks' layout: the column family ids its records carry,
//! the checkpoint's files, and a few per-type byte layouts.

use super::encode::LIST_INITIAL_INDEX;
use super::*;

mod replay;

const NS: &str = DEFAULT_NAMESPACE;

/// One WriteBatch record: tag, column family id, key, value (empty for deletes and LogData
/// keys; a LogData's blob is its key; a range delete's end is its value).
pub(super) type Record = (u8, u32, Vec<u8>, Vec<u8>);

fn varint(bytes: &[u8], at: &mut usize) -> u32 {
    let (mut value, mut shift) = (0u32, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= u32::from(b & 0x7f) << shift;
        if b < 0x80 {
            return value;
        }
        shift += 7;
    }
}

fn varstring(bytes: &[u8], at: &mut usize) -> Vec<u8> {
    let len = varint(bytes, at) as usize;
    *at += len;
    bytes[*at - len..*at].to_vec()
}

/// The header (sequence, count) and records of a rep; only the tags Kvrocks writes.
pub(super) fn parse(rep: &[u8]) -> (u64, u32, Vec<Record>) {
    let seq = u64::from_le_bytes(rep[..8].try_into().unwrap());
    let count = u32::from_le_bytes(rep[8..12].try_into().unwrap());
    let (mut at, mut records) = (12, Vec::new());
    while at < rep.len() {
        let tag = rep[at];
        at += 1;
        let cf = if matches!(tag, 4 | 5 | 0x0e) { varint(rep, &mut at) } else { 0 };
        let key = varstring(rep, &mut at);
        let value = if matches!(tag, 1 | 5 | 0x0e | 0x0f) { varstring(rep, &mut at) } else { Vec::new() };
        records.push((tag, cf, key, value));
    }
    (seq, count, records)
}

fn open_checkpoint(dir: &Path) -> DB {
    let families = DB::list_cf(&Options::default(), dir).unwrap();
    assert_eq!(families, COLUMN_FAMILIES, "Kvrocks' column families, in id order");
    DB::open_cf_for_read_only(&Options::default(), dir, COLUMN_FAMILIES, false).unwrap()
}

#[test]
fn a_checkpoint_in_the_wal_holds_the_data_in_its_log_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    cp.hash(NS, "h", &[("a", "1"), ("b", "2")], Expiry::None, Encoding::Legacy);
    cp.string("ns1", "s", "v", Expiry::At(4_102_444_800_123), Encoding::New);
    let (files, sequence) = cp.finish_in_wal().unwrap();
    assert_eq!(sequence, 4, "3 records for the hash, 1 for the string");
    assert!(files.iter().any(|f| f == "CURRENT") && files.iter().any(|f| f.ends_with(".log")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("MANIFEST-")) && files.iter().any(|f| f.starts_with("OPTIONS-")));
    assert!(!files.iter().any(|f| f.ends_with(".sst")), "{files:?}");
    let db = open_checkpoint(&cp.checkpoint_dir());
    assert_eq!(db.latest_sequence_number(), sequence);
    let meta = db.get_cf(db.cf_handle("metadata").unwrap(), b"\x0b__namespaceh").unwrap().unwrap();
    let (meta, _) = Metadata::decode(&meta).unwrap();
    assert_eq!((meta.kind, meta.encoding, meta.size), (KvType::Hash, Encoding::Legacy, 2));
    let field = encode::internal_key(Layout::default(), NS, b"h", meta.version, b"b");
    assert_eq!(db.get(field).unwrap().as_deref(), Some(&b"2"[..]));
    let s = db.get_cf(db.cf_handle("metadata").unwrap(), b"\x03ns1s").unwrap().unwrap();
    assert_eq!(s, [&b"\x81"[..], &4_102_444_800_123u64.to_be_bytes(), b"v"].concat());
}

#[test]
fn a_flushed_checkpoint_holds_sst_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout { cluster: true }).unwrap();
    cp.set(NS, "{tag}s", &["m1", "m2"], Expiry::None, Encoding::New);
    let (files, sequence) = cp.finish().unwrap();
    assert!(files.iter().any(|f| f.ends_with(".sst")), "{files:?}");
    let db = open_checkpoint(&cp.checkpoint_dir());
    assert_eq!(db.latest_sequence_number(), sequence);
    let mut it = db.raw_iterator_cf(db.cf_handle("metadata").unwrap());
    it.seek_to_first();
    let slot = encode::slot(b"tag").to_be_bytes();
    assert_eq!(it.key().unwrap(), [&b"\x0b__namespace"[..], &slot, b"{tag}s"].concat(), "slot id of the hash tag");
}

#[test]
fn writes_after_the_checkpoint_are_reps_with_log_data_first_and_kvrocks_cf_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    cp.string(NS, "gone", "x", Expiry::None, Encoding::New);
    let (_, sequence) = cp.finish_in_wal().unwrap();
    cp.zset("ns1", "z", &[("m", 2.5)], Expiry::None, Encoding::New);
    let entry = EntrySpec { id: (5, 1), fields: vec![(b"f".to_vec(), b"v".to_vec())] };
    cp.stream(NS, "st", &StreamSpec { entries: vec![entry], ..StreamSpec::default() }, Expiry::None, Encoding::New);
    cp.del(NS, &["gone"]);
    let reps = cp.updates_since(sequence + 1).unwrap();
    let heads: Vec<_> = reps.iter().map(|r| (parse(r).0, parse(r).1)).collect();
    assert_eq!(reps.len(), 3, "{heads:?} after {sequence}");
    let (seq, count, records) = parse(&reps[0]);
    assert_eq!((seq, count), (sequence + 1, 3));
    let shape: Vec<(u8, u32)> = records.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(shape, [(3, 0), (1, 0), (5, 2), (5, 1)], "LogData, member (default), score index, metadata");
    assert_eq!(records[0].2, b"5");
    assert_eq!(records[1].3, encode::encode_double(2.5));
    assert!(records[2].2.ends_with(&[&encode::encode_double(2.5)[..], b"m"].concat()));
    let (_, _, records) = parse(&reps[1]);
    let shape: Vec<(u8, u32)> = records.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(shape, [(3, 0), (5, 5), (5, 1)], "LogData, entry (stream CF), metadata");
    assert_eq!(records[1].3, b"\x01f\x01v");
    let (_, count, records) = parse(&reps[2]);
    assert_eq!(count, 1);
    assert_eq!(records[1], (4, 1, b"\x0b__namespacegone".to_vec(), Vec::new()), "DEL: a metadata delete");
}

#[test]
fn lists_straddle_the_initial_index_and_bitmaps_grow_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    cp.list(NS, "l", &["a", "b", "c", "d", "e"], Expiry::None, Encoding::Legacy);
    let raw = cp.raw_metadata(NS, "l").unwrap();
    let (meta, extras) = Metadata::decode(&raw).unwrap();
    assert_eq!((meta.size, meta.encoding), (5, Encoding::Legacy));
    assert_eq!(extras, [(LIST_INITIAL_INDEX - 2).to_be_bytes(), (LIST_INITIAL_INDEX + 3).to_be_bytes()].concat());
    let at = |i: u64| cp.get(Cf::Default, &cp.internal_key(NS, b"l", meta.version, &i.to_be_bytes())).unwrap();
    assert_eq!([at(LIST_INITIAL_INDEX - 2), at(LIST_INITIAL_INDEX + 2)], [b"a", b"e"]);

    cp.bitmap(NS, "bm", &[0, 8, 16], Expiry::None, Encoding::New);
    let (meta, _) = Metadata::decode(&cp.raw_metadata(NS, "bm").unwrap()).unwrap();
    assert_eq!(meta.size, 3, "bytes up to the last bit set");
    let segment = cp.get(Cf::Default, &cp.internal_key(NS, b"bm", meta.version, b"0")).unwrap();
    assert_eq!(segment, [0x01, 0x01, 0x01, 0x00], "LSB-first bits, the segment doubled to 4 bytes");
}

#[test]
fn expire_rewrites_a_legacy_expiry_in_seconds_and_del_leaves_stale_subkeys() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    cp.hash(NS, "h", &[("a", "1")], Expiry::At(4_102_444_800_999), Encoding::Legacy);
    let raw = cp.raw_metadata(NS, "h").unwrap();
    assert_eq!(raw[..5], [&[0x02][..], &4_102_444_801u32.to_be_bytes()].concat());
    let old = cp.version_of(NS, "h").unwrap();
    cp.del(NS, &["h"]);
    cp.hash(NS, "h", &[("b", "2")], Expiry::None, Encoding::New);
    let new = cp.version_of(NS, "h").unwrap();
    assert!(new > old);
    assert!(cp.get(Cf::Default, &cp.internal_key(NS, b"h", old, b"a")).is_some(), "the old field stays");
    cp.stale_subkey(NS, "h", b"c", b"3");
    assert!(cp.get(Cf::Default, &cp.internal_key(NS, b"h", new - 1, b"c")).is_some());
}

/// The shape of a rep: its count and per record (tag, column family).
fn shape(rep: &[u8]) -> (u32, Vec<(u8, u32)>) {
    let (_, count, records) = parse(rep);
    (count, records.iter().map(|r| (r.0, r.1)).collect())
}

fn log_data(rep: &[u8]) -> Vec<String> {
    parse(rep).2.iter().filter(|r| r.0 == 3).map(|r| String::from_utf8_lossy(&r.2).into_owned()).collect()
}

#[test]
fn no_op_commands_write_their_log_data_alone_and_group_commits_one_rep() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    cp.set(NS, "s", &["a"], Expiry::None, Encoding::New);
    cp.zset(NS, "z", &[("m", 1.0)], Expiry::None, Encoding::New);
    let before = cp.latest_sequence();
    cp.set(NS, "s", &["a"], Expiry::None, Encoding::New); // SADD of a member: LogData only
    cp.zrem(NS, "z", &["nope"]); // ZREM of no member: LogData only
    cp.hdel(NS, "nothing", &["f"]); // nothing at all
    cp.group_commit(|cp| {
        cp.incrby(NS, "n", 2);
        cp.rpush(NS, "l", &["x"]);
        cp.del(NS, &["missing"]); // writes nothing, adds nothing
    });
    let reps = cp.updates_since(before + 1).unwrap();
    let shapes: Vec<_> = reps.iter().map(|r| shape(r)).collect();
    assert_eq!(shapes[0], (0, vec![(3, 0)]), "a batch of LogData only: RocksDB keeps it in the WAL");
    assert_eq!(shapes[1], (0, vec![(3, 0)]));
    assert_eq!(shapes[2], (3, vec![(3, 0), (5, 1), (3, 0), (1, 0), (5, 1)]), "two commands, one rep");
    assert_eq!(log_data(&reps[2]), ["1", "3 7"]);
    assert_eq!(reps.len(), 3);
    // Both empty batches carry the sequence the next batch starts at.
    let seqs: Vec<u64> = reps.iter().map(|r| parse(r).0).collect();
    assert_eq!(seqs, [before + 1, before + 1, before + 1]);
}

#[test]
fn xgroup_destroy_deletes_the_range_kvrocks_2_10_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    let entry = |ms| EntrySpec { id: (ms, 0), fields: vec![(b"f".to_vec(), b"v".to_vec())] };
    for ms in [1, 100] {
        cp.xadd(NS, "st", &entry(ms));
    }
    for g in [&b"g1"[..], b"zz"] {
        assert!(cp.xgroup_create(NS, b"st", g, None, -1, false));
        assert!(cp.xgroup_createconsumer(NS, b"st", g, b"c"));
    }
    let before = cp.latest_sequence();
    assert!(cp.xgroup_destroy(NS, b"st", b"g1"));
    let rep = &cp.updates_since(before + 1).unwrap()[0];
    let (_, _, records) = parse(rep);
    // Entry 100-0 (ms 100 >= len 2) and both groups' records (group, consumer) go; 1-0 stays.
    let deleted: Vec<&[u8]> = records.iter().filter(|r| r.0 == 4).map(|r| &r.2[r.2.len() - 17..]).collect();
    assert_eq!(deleted.len(), 5, "{deleted:?}");
    assert_eq!(&deleted[0][1..], &stream_id(100, 0)[..]);
    let (meta, extras) = Metadata::decode(records.last().unwrap().3.as_slice()).unwrap();
    assert_eq!(
        (meta.size, u64::from_be_bytes(extras[88..96].try_into().unwrap())),
        (2, 1),
        "size kept, one group less"
    );
}

fn stream_id(ms: u64, seq: u64) -> Vec<u8> {
    [ms.to_be_bytes(), seq.to_be_bytes()].concat()
}

#[test]
fn flushes_are_range_deletes_without_log_data_and_rank_removal_has_no_log_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout { cluster: true }).unwrap();
    cp.string("ns1", "a", "1", Expiry::None, Encoding::New);
    cp.string(NS, "b", "2", Expiry::None, Encoding::New);
    cp.zset(NS, "z", &[("a", 1.0), ("b", 2.0), ("c", 3.0)], Expiry::None, Encoding::New);
    let before = cp.latest_sequence();
    assert_eq!(cp.zremrangebyrank(NS, "z", 0, -2), 2);
    cp.flushdb("ns1");
    cp.flushall();
    let reps = cp.updates_since(before + 1).unwrap();
    assert_eq!(shape(&reps[0]), (5, vec![(0, 0), (4, 2), (0, 0), (4, 2), (5, 1)]), "no LogData");
    let (_, _, flushdb) = parse(&reps[1]);
    assert_eq!(flushdb, [(0x0e, 1, b"\x03ns1".to_vec(), b"\x03ns2".to_vec())]);
    let (_, _, flushall) = parse(&reps[2]);
    assert_eq!(flushall[0].2, cp.ns_key(NS, b"b"), "from the first key left in the metadata CF");
    assert_eq!(flushall[0].3, keyspace::string_next(&cp.ns_key(NS, b"z")), "to past its last");
    assert!(!cp.exists(NS, "b") && !cp.exists(NS, "z"));
}

/// The list as Kvrocks reads it (`LRANGE 0 -1`) and its bounds.
fn lrange(cp: &KvrocksCheckpoint, key: &str) -> Vec<String> {
    let Some((meta, extras)) = cp.live(NS, key.as_bytes()) else { return Vec::new() };
    let head = u64::from_be_bytes(extras[..8].try_into().unwrap());
    (0..meta.size)
        .map(|i| {
            let sub = cp.internal_key(NS, key.as_bytes(), meta.version, &(head + i).to_be_bytes());
            String::from_utf8(cp.get(Cf::Default, &sub).expect("an element at every index")).unwrap()
        })
        .collect()
}

#[test]
fn list_edits_shift_either_side_and_keep_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    let mut model: Vec<String> = ["a", "x", "b", "c", "x", "d", "e", "x"].map(String::from).to_vec();
    cp.list(NS, "l", &model, Expiry::None, Encoding::Legacy);
    let check = |cp: &KvrocksCheckpoint, model: &[String], what: &str| assert_eq!(lrange(cp, "l"), model, "{what}");
    assert_eq!(cp.linsert(NS, "l", false, b"e", b"after-e"), 9);
    model.insert(7, "after-e".into());
    check(&cp, &model, "LINSERT AFTER near the tail");
    assert_eq!(cp.linsert(NS, "l", true, b"b", b"before-b"), 10);
    model.insert(2, "before-b".into());
    check(&cp, &model, "LINSERT BEFORE near the head");
    assert_eq!(cp.linsert(NS, "l", true, b"nope", b"z"), -1);
    assert_eq!(cp.lrem(NS, "l", -2, b"x"), 2);
    model.remove(9);
    model.remove(5);
    check(&cp, &model, "LREM -2 from the tail");
    cp.lpush(NS, "l", &["x"]);
    model.insert(0, "x".into());
    assert_eq!(cp.lrem(NS, "l", 1, b"x"), 1);
    model.remove(0);
    check(&cp, &model, "LREM 1 at the head");
    cp.lset(NS, "l", -1, "last");
    *model.last_mut().unwrap() = "last".into();
    check(&cp, &model, "LSET -1");
    cp.ltrim(NS, "l", 1, -2);
    model = model[1..model.len() - 1].to_vec();
    check(&cp, &model, "LTRIM 1 -2");
    assert_eq!(cp.pop(NS, "l", 2, false), [b"e".to_vec(), b"d".to_vec()]);
    model.truncate(model.len() - 2);
    check(&cp, &model, "RPOP 2");
    cp.lmove(NS, b"l", b"l", true, false);
    model.rotate_left(1);
    check(&cp, &model, "LMOVE l l LEFT RIGHT");
    let before = cp.latest_sequence();
    assert_eq!(cp.lmove(NS, b"l", b"fresh", false, true), Some(model.pop().unwrap().into_bytes()));
    check(&cp, &model, "LMOVE to a new list");
    assert_eq!(cp.version_of(NS, "fresh"), Some(0), "ListMetadata(false): version 0");
    assert_eq!(log_data(&cp.updates_since(before + 1).unwrap()[0]), ["3 12 l fresh right left"]);
    cp.ltrim(NS, "l", 5, 1);
    assert!(!cp.exists(NS, "l"), "an empty range deletes the list");
}

#[test]
fn bitop_computes_what_redis_computes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    let (a, b) = ([1u64, 7, 9, 300, 8192 * 2 + 5], [0u64, 7, 8, 301]);
    cp.bitmap(NS, "a", &a, Expiry::None, Encoding::New);
    cp.bitmap(NS, "b", &b, Expiry::None, Encoding::Legacy);
    let bits = |cp: &KvrocksCheckpoint, key: &str| -> Vec<u64> {
        let (meta, _) = cp.live(NS, key.as_bytes()).unwrap();
        (0..meta.size * 8)
            .filter(|bit| {
                let sub = cp.internal_key(NS, key.as_bytes(), meta.version, (bit / 8192 * 1024).to_string().as_bytes());
                let segment = cp.get(Cf::Default, &sub).unwrap_or_default();
                segment.get((bit / 8 % 1024) as usize).is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
            })
            .collect()
    };
    let len = (8192 * 2 + 5) / 8 + 1;
    assert_eq!(cp.bitop(NS, BitOp::Or, "or", &["a", "b"]), len);
    assert_eq!(bits(&cp, "or"), [0, 1, 7, 8, 9, 300, 301, 8192 * 2 + 5]);
    cp.bitop(NS, BitOp::And, "and", &["a", "b"]);
    assert_eq!(bits(&cp, "and"), [7]);
    cp.bitop(NS, BitOp::Xor, "xor", &["a", "b"]);
    assert_eq!(bits(&cp, "xor"), [0, 1, 8, 9, 300, 301, 8192 * 2 + 5]);
    cp.bitop(NS, BitOp::Not, "not", &["b"]);
    let not: Vec<u64> = (0..38 * 8).filter(|bit| !b.contains(bit)).collect();
    assert_eq!(bits(&cp, "not"), not, "NOT of 38 bytes");
    cp.bitop(NS, BitOp::And, "and", &["a", "missing"]);
    assert_eq!(bits(&cp, "and"), Vec::<u64>::new(), "AND with a missing key: all zero, size kept");
    cp.setbit_to(NS, "a", 9, false);
    assert_eq!(bits(&cp, "a"), [1, 7, 300, 8192 * 2 + 5], "SETBIT 0 clears");
}
