//! Pika 3.5 dumps of every type, names of several types at once included, loaded into a
//! real redis-server: the type `TYPE` reports is copied, the others reported by name.

use super::v4::SCORES;
use super::*;
use crate::pika_dump::{Expiry, Generation, PikaDump};
use replicant_pika::dump::{KeyType, SkipReason};

/// 2033-05-18, in ms: a far expiry 3.5 can hold (its timestamps are i32 seconds).
const FAR35: u64 = 2_000_000_000_000;

fn shadowed(key: &[u8], kept: KeyType, dropped: KeyType) -> SkippedKey {
    SkippedKey { key: key.to_vec(), reason: SkipReason::Shadowed { kept, dropped } }
}

#[test]
fn a_v35_dump_of_every_type_loads_into_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = PikaDump::create(tmp.path().join("db2"), Generation::V35).unwrap();
    d.string(b"s", b"v", Expiry::None);
    // 3.5 keeps whole seconds.
    d.string(b"s:ttl", b"t", Expiry::At(FAR35 + 999));
    d.string(b"s:gone", b"x", Expiry::AtSecs(1));
    d.string(b"k\0zero", b"\0\xff", Expiry::None);
    d.hash(b"h", &[(b"a", b"1")], Expiry::None);
    d.hash(b"h", &[(b"c", b"3"), (b"d", b"")], Expiry::At(FAR35));
    d.set(b"set", &[b"m1", b"\0"], Expiry::None);
    d.zset(b"z", &SCORES, Expiry::None);
    d.list(b"l", &[b"stale"], Expiry::None);
    d.list(b"l", &[b"a", b"b", b"c", b"d"], Expiry::None);
    let long: Vec<Vec<u8>> = (0..1200).map(|i| format!("e{i}").into_bytes()).collect();
    let long_refs: Vec<&[u8]> = long.iter().map(Vec::as_slice).collect();
    d.list(b"l:big", &long_refs, Expiry::At(FAR35));
    // A HyperLogLog is a plain string in 3.5: copied as one.
    d.hyperloglog(b"hll", b"HYLL");
    // One shaped as Pika's registers (2^17 bytes of at most 16) is told and left out.
    let mut registers = vec![0u8; 1 << 17];
    registers[77] = 3;
    d.hyperloglog(b"hll:real", &registers);
    // Several types under one name.
    d.string(b"dup", b"the string", Expiry::None);
    d.hash(b"dup", &[(b"f", b"v")], Expiry::None);
    d.list(b"dup", &[b"x"], Expiry::None);
    d.hash(b"dup2", &[(b"f", b"v")], Expiry::AtSecs(1));
    d.set(b"dup2", &[b"live"], Expiry::None);
    d.set(b"dup3", &[b"s"], Expiry::None);
    d.zset(b"dup3", &[(1.5, b"z")], Expiry::None);
    d.list(b"dup4", &[b"x"], Expiry::None);
    d.emptied(b"dup4", DataType::Lists);
    d.set(b"dup4", &[b"left"], Expiry::None);
    // Streams (read when the directory is there).
    d.stream(b"st", vec![((3, 1), vec![(b"k".to_vec(), b"v".to_vec())])], (3, 1), 1, (0, 0));
    d.set(b"dupst", &[b"m"], Expiry::None);
    d.stream(b"dupst", vec![((1, 1), vec![(b"k".to_vec(), b"v".to_vec())])], (1, 1), 1, (0, 0));
    d.info(1, 2048).unwrap();
    let dir = d.finish().unwrap();

    let server = RedisServer::start();
    let format = DumpFormat::detect(&dir).unwrap();
    assert_eq!(format, DumpFormat::Blackwidow);
    let loaded = load(&server, &dir, 2, format);
    let mut skipped = loaded.skipped.clone();
    skipped.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        skipped,
        [
            shadowed(b"dup", KeyType::String, KeyType::Hash),
            shadowed(b"dup", KeyType::String, KeyType::List),
            shadowed(b"dup3", KeyType::ZSet, KeyType::Set),
            shadowed(b"dupst", KeyType::Set, KeyType::Stream),
            SkippedKey { key: b"hll:real".to_vec(), reason: SkipReason::PikaHyperLogLog },
        ]
    );
    let expected =
        DumpSummary { keys: 15, expired: 2, empty: 1, shadowed: 4, hyperloglogs: 1, ..DumpSummary::default() };
    assert_eq!(loaded.summary, expected);

    let snap = image(&server);
    let db = 2;
    assert_eq!(entry(&snap, db, b"s"), string(b"v", -1));
    assert_eq!(entry(&snap, db, b"s:ttl"), string(b"t", FAR35 as i64));
    assert_eq!(entry(&snap, db, b"k\0zero"), string(b"\0\xff", -1));
    assert_eq!(entry(&snap, db, b"h"), hash(&[(b"c", b"3"), (b"d", b"")], FAR35 as i64));
    assert_eq!(entry(&snap, db, b"set"), set(&[b"m1", b"\0"], -1));
    assert_zset(&entry(&snap, db, b"z"), &SCORES, -1);
    assert_eq!(entry(&snap, db, b"l"), list(&[b"a", b"b", b"c", b"d"], -1));
    assert_eq!(entry(&snap, db, b"l:big"), list(&long_refs, FAR35 as i64));
    assert_eq!(entry(&snap, db, b"hll"), string(b"HYLL", -1));
    assert_eq!(entry(&snap, db, b"dup"), string(b"the string", -1));
    assert_eq!(entry(&snap, db, b"dup2"), set(&[b"live"], -1));
    assert_zset(&entry(&snap, db, b"dup3"), &[(1.5, b"z")], -1);
    assert_eq!(entry(&snap, db, b"dup4"), set(&[b"left"], -1));
    assert_eq!(entry(&snap, db, b"dupst"), set(&[b"m"], -1));
    let Data::Stream(st) = entry(&snap, db, b"st").data else { panic!("st is not a stream") };
    assert_eq!(st.entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["3-1"]);
    assert_eq!((st.last_generated_id.as_str(), st.entries_added), ("3-1", Some(1)));
    assert_eq!(names(&snap, db).len(), 15, "{:?}", names(&snap, db));
}

/// 3.5.5's RsyncService sends no `streams` directory: a dump without it reads.
#[test]
fn a_v35_dump_without_streams_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = PikaDump::create(tmp.path(), Generation::V35).unwrap();
    d.string(b"s", b"v", Expiry::None);
    let dir = d.finish().unwrap();
    assert!(!dir.join("streams").exists());
    let server = RedisServer::start();
    let loaded = load(&server, &dir, 0, DumpFormat::Blackwidow);
    assert_eq!(loaded.summary.keys, 1);
    assert_eq!(entry(&image(&server), 0, b"s"), string(b"v", -1));
}
