//! Checks of the writer against Kvrocks' layout: the column family ids its records carry,
//! the checkpoint's files, and a few per-type byte layouts.

use super::encode::LIST_INITIAL_INDEX;
use super::*;

const NS: &str = DEFAULT_NAMESPACE;

/// One WriteBatch record: tag, column family id, key, value (empty for deletes and LogData
/// keys; a LogData's blob is its key).
type Record = (u8, u32, Vec<u8>, Vec<u8>);

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
fn parse(rep: &[u8]) -> (u64, u32, Vec<Record>) {
    let seq = u64::from_le_bytes(rep[..8].try_into().unwrap());
    let count = u32::from_le_bytes(rep[8..12].try_into().unwrap());
    let (mut at, mut records) = (12, Vec::new());
    while at < rep.len() {
        let tag = rep[at];
        at += 1;
        let cf = if matches!(tag, 4 | 5) { varint(rep, &mut at) } else { 0 };
        let key = varstring(rep, &mut at);
        let value = if matches!(tag, 1 | 5) { varstring(rep, &mut at) } else { Vec::new() };
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
