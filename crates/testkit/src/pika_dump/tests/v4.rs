//! Pika 4.x dumps of every type, in two databases (one dump flushed to tables, one left in
//! its WAL files), loaded into a real redis-server.

use super::*;
use crate::pika_dump::{Expiry, Generation, PikaDump};
use replicant_pika::dump::SkipReason;

fn fields(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n).map(|i| (format!("f{i}").into_bytes(), format!("v{i}").into_bytes())).collect()
}

fn elements(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("e{i}").into_bytes()).collect()
}

fn refs(items: &[Vec<u8>]) -> Vec<&[u8]> {
    items.iter().map(Vec::as_slice).collect()
}

fn pairs(items: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    items.iter().map(|(f, v)| (f.as_slice(), v.as_slice())).collect()
}

/// The zset every test writes: exact scores of every kind.
pub(super) const SCORES: [(f64, &[u8]); 8] = [
    (-3.25, b"neg"),
    (0.1, b"tenth"),
    (1e300, b"huge"),
    (5e-324, b"tiny"),
    (f64::INFINITY, b"inf"),
    (f64::NEG_INFINITY, b"-inf"),
    (2.5, b"a"),
    (2.5, b"b"),
];

/// Writes db0's keys; what `check_db0` expects.
fn write_db0(d: &mut PikaDump) {
    d.string(b"s", b"v", Expiry::None);
    d.string(b"s:ttl", b"t", Expiry::At(FAR + 123));
    d.string(b"s:secs", b"old", Expiry::AtSecs(FAR / 1000 + 1));
    d.string(b"s:gone", b"x", Expiry::At(1_000));
    d.string(b"k\0with\0zeros\0", b"\0\x01\xff", Expiry::None);
    d.string(b"", b"the empty key", Expiry::None);
    d.string(b"s:empty", b"", Expiry::None);
    // Written twice: the first version's rows stay behind, stale.
    d.hash(b"h", &[(b"a", b"1"), (b"b", b"2")], Expiry::None);
    d.hash(b"h", &[(b"c", b"3"), (b"\0", b"")], Expiry::At(FAR));
    let big = fields(3000);
    d.hash(b"h:big", &pairs(&big), Expiry::None);
    d.hash(b"h:gone", &[(b"f", b"v")], Expiry::At(1_000));
    d.set(b"set", &[b"m1", b"m2", b"\0"], Expiry::None);
    d.set(b"set:del", &[b"x"], Expiry::None);
    d.emptied(b"set:del", DataType::Sets);
    d.zset(b"z", &SCORES, Expiry::None);
    let many: Vec<(f64, Vec<u8>)> =
        (0..1000).map(|i| (f64::from(i) / 7.0 - 50.0, format!("m{i}").into_bytes())).collect();
    let many: Vec<(f64, &[u8])> = many.iter().map(|(s, m)| (*s, m.as_slice())).collect();
    d.zset(b"z:big", &many, Expiry::At(FAR));
    d.list(b"l", &[b"a", b"b", b"c", b"d", b"e"], Expiry::None);
    d.list(b"l", &[b"new", b"list"], Expiry::None);
    let long = elements(1500);
    d.list(b"l:big", &refs(&long), Expiry::At(FAR + 1));
    d.list(b"l:one", &[b"only"], Expiry::None);
    let entries = vec![
        ((1, 0), vec![(b"f".to_vec(), b"a".to_vec())]),
        ((1, 1), vec![(b"f".to_vec(), b"b".to_vec()), (b"g".to_vec(), b"\0".to_vec())]),
        ((5, 0), vec![(b"".to_vec(), b"".to_vec())]),
    ];
    d.stream(b"st", entries, (7, 3), 5, (6, 0));
    d.hyperloglog(b"hll", b"HYLL\x01registers");
    // Codis slot bookkeeping: left out, as the binlog's commands on it are.
    d.set(b"_internal:slotkey:4migrate:12", &[b"k1"], Expiry::None);
    // In 4.x a name has one type: the string replaces the zset (whose rows stay, stale).
    d.zset(b"changed", &[(1.0, b"m")], Expiry::None);
    d.string(b"changed", b"now a string", Expiry::None);
}

fn check_db0(snap: &Snapshot) {
    let db = 0;
    assert_eq!(entry(snap, db, b"s"), string(b"v", -1));
    assert_eq!(entry(snap, db, b"s:ttl"), string(b"t", (FAR + 123) as i64));
    assert_eq!(entry(snap, db, b"s:secs"), string(b"old", (FAR + 1000) as i64));
    assert_eq!(entry(snap, db, b"k\0with\0zeros\0"), string(b"\0\x01\xff", -1));
    assert_eq!(entry(snap, db, b""), string(b"the empty key", -1));
    assert_eq!(entry(snap, db, b"s:empty"), string(b"", -1));
    assert_eq!(entry(snap, db, b"h"), hash(&[(b"c", b"3"), (b"\0", b"")], FAR as i64));
    let big = fields(3000);
    assert_eq!(entry(snap, db, b"h:big"), hash(&pairs(&big), -1));
    assert_eq!(entry(snap, db, b"set"), set(&[b"m1", b"m2", b"\0"], -1));
    assert_zset(&entry(snap, db, b"z"), &SCORES, -1);
    let many: Vec<(f64, Vec<u8>)> =
        (0..1000).map(|i| (f64::from(i) / 7.0 - 50.0, format!("m{i}").into_bytes())).collect();
    let many: Vec<(f64, &[u8])> = many.iter().map(|(s, m)| (*s, m.as_slice())).collect();
    assert_zset(&entry(snap, db, b"z:big"), &many, FAR as i64);
    assert_eq!(entry(snap, db, b"l"), list(&[b"new", b"list"], -1));
    assert_eq!(entry(snap, db, b"l:big"), list(&refs(&elements(1500)), (FAR + 1) as i64));
    assert_eq!(entry(snap, db, b"l:one"), list(&[b"only"], -1));
    let Data::Stream(st) = entry(snap, db, b"st").data else { panic!("st is not a stream") };
    let ids: Vec<&str> = st.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["1-0", "1-1", "5-0"]);
    assert_eq!(st.entries[1].fields, [(b(b"f"), b(b"b")), (b(b"g"), b(b"\0"))]);
    assert_eq!(st.entries[2].fields, [(b(b""), b(b""))]);
    assert_eq!((st.last_generated_id.as_str(), st.entries_added), ("7-3", Some(5)));
    assert_eq!(st.max_deleted_entry_id.as_deref(), Some("6-0"));
    assert_eq!(entry(snap, db, b"changed"), string(b"now a string", -1));
    assert_eq!(names(snap, db).len(), 16, "{:?}", names(snap, db));
}

#[test]
fn a_v4_dump_of_every_type_loads_into_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = PikaDump::create(tmp.path().join("db0"), Generation::V4 { instances: 3 }).unwrap();
    write_db0(&mut d);
    d.info(0, 5462).unwrap();
    let db0 = d.finish().unwrap();
    // Another database, one instance, its data left in the WAL files.
    let mut d = PikaDump::create(tmp.path().join("db1"), Generation::V4 { instances: 1 }).unwrap();
    d.string(b"s", b"db1", Expiry::None);
    d.list(b"l", &[b"x", b"y"], Expiry::At(FAR));
    d.info(0, 100).unwrap();
    let db1 = d.finish_in_wal();

    let server = RedisServer::start();
    let format = DumpFormat::detect(&db0).unwrap();
    assert_eq!(format, DumpFormat::Floyd { instances: 3 });
    let loaded = load(&server, &db0, 0, format);
    let expected =
        DumpSummary { keys: 16, expired: 2, empty: 1, hyperloglogs: 1, slot_keys: 1, ..DumpSummary::default() };
    assert_eq!(loaded.summary, expected);
    let mut skipped = loaded.skipped.clone();
    skipped.sort_by(|a, b| a.key.cmp(&b.key));
    let slot_key = SkippedKey { key: b"_internal:slotkey:4migrate:12".to_vec(), reason: SkipReason::SlotKey };
    assert_eq!(skipped, [slot_key, SkippedKey { key: b"hll".to_vec(), reason: SkipReason::PikaHyperLogLog }]);
    let loaded = load(&server, &db1, 1, DumpFormat::detect(&db1).unwrap());
    assert_eq!((loaded.summary.keys, loaded.summary.expired), (2, 0));

    let snap = image(&server);
    check_db0(&snap);
    assert_eq!(entry(&snap, 1, b"s"), string(b"db1", -1));
    assert_eq!(entry(&snap, 1, b"l"), list(&[b"x", b"y"], FAR as i64));
    assert_eq!(snap.keys_in_db(1), 2);
}
