//! What specific fixture files decode to: exact keys, values, scores, expiries, stream
//! state, field TTLs, module data, functions and database numbers, and the exact error
//! of each file built to fail.
//!
//! Every expectation here comes from the file's bytes (read with `xxd`, and for LZF
//! blobs with an independent decoder), or from the documentation of the corpus it comes
//! from, not from what the parser happens to print. Where it helps, a test re-reads the
//! byte it relies on, so the justification sits next to the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use replicant_rdb::{Checksum, Encoding, Error, Flavor, Kind, ModuleId, StreamId};
use support::collect::id;
use support::fixture;
use support::model::{decode, Dump};

fn load(name: &str) -> (Vec<u8>, Dump) {
    let data = fixture(name);
    let dump = decode(&data);
    (data, dump)
}

fn sorted(mut v: Vec<&[u8]>) -> Vec<&[u8]> {
    v.sort();
    v
}

/// Redis tests/assets/encodings.rdb: every RDB 4 encoding, with the values listed in
/// Redis's `tests/integration/rdb.tcl`.
#[test]
fn encodings_rdb() {
    let (_, d) = load("valkey-tests-assets/encodings.rdb");
    let f = d.format.unwrap();
    assert_eq!((f.flavor, f.version), (Flavor::Redis, 4));
    assert_eq!(d.checksum, Some(Checksum::Absent));
    assert_eq!(d.dbs, [0]);
    assert_eq!(d.keys.len(), 13);

    // Type 0, plain and LZF ("c3 09 40 89": 9 compressed bytes expand to 137 'a's).
    assert_eq!(d.key("string").string(), b"Hello World");
    assert_eq!(d.key("compressible").string(), vec![b'a'; 137]);
    // Type 0, int8-encoded ("c0 0a").
    assert_eq!(d.key("number").string(), b"10");

    // Type 1: 24 elements, the same 8 three times.
    let eight: [&[u8]; 8] = [b"1", b"2", b"3", b"a", b"b", b"c", b"100000", b"6000000000"];
    let list = d.key("list");
    assert_eq!(list.encoding, Encoding::List);
    assert_eq!(list.list(), eight.iter().cycle().take(24).copied().collect::<Vec<_>>());
    // Type 10: the same 8 in a ziplist (int16, int32 "d0 a0 86 01 00", int64 entries).
    let zipped = d.key("list_zipped");
    assert_eq!(zipped.encoding, Encoding::ListZiplist);
    assert_eq!(zipped.list(), eight);

    // Type 2, and type 11 with 16-, 32- and 64-bit intsets.
    assert_eq!(d.key("set").set(), sorted(eight.to_vec()));
    let s1 = d.key("set_zipped_1");
    assert_eq!(s1.encoding, Encoding::SetIntset);
    assert_eq!(s1.set(), [b"1", b"2", b"3", b"4"]);
    let s2: [&[u8]; 4] = [b"100000", b"200000", b"300000", b"400000"];
    assert_eq!(d.key("set_zipped_2").set(), s2);
    let s3: Vec<String> = (1..=6).map(|i| format!("{i}000000000")).collect();
    assert_eq!(d.key("set_zipped_3").set(), s3.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());

    // Type 3 (text scores) and type 12 (ziplist).
    let zset = d.key("zset");
    assert_eq!(zset.encoding, Encoding::ZSet);
    let expected: Vec<(&[u8], f64)> = vec![
        (b"a", 1.0),
        (b"aa", 10.0),
        (b"aaa", 100.0),
        (b"aaaa", 1000.0),
        (b"b", 2.0),
        (b"bb", 20.0),
        (b"bbb", 200.0),
        (b"bbbb", 5_000_000_000.0),
        (b"c", 3.0),
        (b"cc", 30.0),
        (b"ccc", 300.0),
        (b"cccc", 123_456_789.0),
    ];
    assert_eq!(zset.zset(), expected);
    let zz = d.key("zset_zipped");
    assert_eq!(zz.encoding, Encoding::ZSetZiplist);
    assert_eq!(zz.zset(), vec![(&b"a"[..], 1.0), (b"b", 2.0), (b"c", 3.0)]);

    // Type 4 and type 13.
    let hash = d.key("hash");
    assert_eq!(hash.encoding, Encoding::Hash);
    let expected: Vec<(&[u8], &[u8], Option<i64>)> = vec![
        (b"a", b"1", None),
        (b"aa", b"10", None),
        (b"aaa", b"100", None),
        (b"b", b"2", None),
        (b"bb", b"20", None),
        (b"bbb", b"200", None),
        (b"c", b"3", None),
        (b"cc", b"30", None),
        (b"ccc", b"300", None),
        (b"ddd", b"400", None),
        (b"eee", b"5000000000", None),
    ];
    assert_eq!(hash.hash(), expected);
    let hz = d.key("hash_zipped");
    assert_eq!(hz.encoding, Encoding::HashZiplist);
    assert_eq!(hz.hash(), vec![(&b"a"[..], &b"1"[..], None), (b"b", b"2", None), (b"c", b"3", None)]);
}

/// Intsets at the top of each width: 0x7ffc..0x7ffe, 0x7ffefffc.., 0x7ffefffefffefffc..
#[test]
fn intset_bounds() {
    for (file, values) in [
        ("intset_16", [32764_i64, 32765, 32766]),
        ("intset_32", [2147418108, 2147418109, 2147418110]),
        ("intset_64", [9223090557583032316, 9223090557583032317, 9223090557583032318]),
    ] {
        let (_, d) = load(&format!("redis-rdb-tools-dumps/{file}.rdb"));
        let key = d.key(file);
        assert_eq!(key.encoding, Encoding::SetIntset);
        let expected: Vec<String> = values.iter().map(i64::to_string).collect();
        assert_eq!(key.set(), expected.iter().map(|s| s.as_bytes()).collect::<Vec<_>>(), "{file}");
    }
}

/// `fc 3d d8 c3 48 85 01 00 00`: 1671963072573 ms, which the value spells out.
#[test]
fn keys_with_expiry() {
    let (_, d) = load("redis-rdb-tools-dumps/keys_with_expiry.rdb");
    let key = d.key("expires_ms_precision");
    assert_eq!(key.expire_ms, Some(1_671_963_072_573));
    assert_eq!(key.string(), b"2022-12-25 10:11:12.573 UTC");

    let (_, d) = load("librdb-dumps/set_expired_v11.rdb");
    assert_eq!(d.key("mykey").expire_ms, Some(1_692_540_290_000));
    assert_eq!(d.key("mykey").string(), b"myval");
}

/// 57 keys named `str::<n>` whose value is `<n>`, stored as int8/16/32 or as text when
/// it does not fit 32 bits.
#[test]
fn string_int_encoded() {
    let (data, d) = load("librdb-dumps/string_int_encoded.rdb");
    assert_eq!(d.resize, [(57, 0)]);
    assert_eq!(d.keys.len(), 57);
    for key in &d.keys {
        let name = std::str::from_utf8(&key.key).unwrap();
        let n = name.strip_prefix("str::").unwrap();
        assert!(n.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert_eq!(key.string(), n.as_bytes(), "{name}");
    }
    let enc_of = |name: &str| {
        let k = d.key(name);
        let raw = &k.raw.as_ref().unwrap().1;
        // The raw value is the file's own bytes for this key.
        assert!(data.windows(raw.len()).any(|w| w == raw.as_slice()));
        raw[0]
    };
    assert_eq!(enc_of("str::-1"), 0xc0);
    assert_eq!(enc_of("str::256"), 0xc1);
    assert_eq!(enc_of("str::-16777216"), 0xc2);
    assert_eq!(enc_of("str::2147483647"), 0xc2);
    assert_eq!(enc_of("str::2147483648"), 10, "beyond i32 the value is plain text");
    assert_eq!(enc_of("str::-4294967296"), 11);
    assert_eq!(d.key("str::9223372036854780000").string(), b"9223372036854780000");
}

/// Zipmaps (type 9), plain and LZF-compressed.
#[test]
fn zipmaps() {
    let (_, d) = load("librdb-dumps/hash_zm_v2.rdb");
    let h = d.key("myhash");
    assert_eq!(h.encoding, Encoding::HashZipmap);
    let names: [&[u8]; 9] = [b"1", b"1.1", b"1.2", b"1.3", b"2", b"3", b"aaa1", b"aaa2", b"aaa3"];
    assert_eq!(h.hash(), names.iter().map(|n| (*n, *n, None)).collect::<Vec<_>>());

    let (_, d) = load("valkey-tests-assets/hash-zipmap.rdb");
    assert_eq!(d.key("hash").hash(), vec![(&b"f1"[..], &b"v1"[..], None), (b"f2", b"v2", None)]);

    let (_, d) = load("redis-rdb-tools-dumps/zipmap_that_doesnt_compress.rdb");
    assert_eq!(
        d.key("zimap_doesnt_compress").hash(),
        vec![(&b"MKD1G6"[..], &b"2"[..], None), (b"YNNXK", b"F7TI", None)]
    );

    let (_, d) = load("redis-rdb-tools-dumps/zipmap_that_compresses_easily.rdb");
    assert_eq!(
        d.key("zipmap_compresses_easily").hash(),
        vec![(&b"a"[..], &b"aa"[..], None), (b"aa", b"aaaa", None), (b"aaaaa", b"aaaaaaaaaaaaaa", None)]
    );
}

/// Ziplist and listpack sorted sets: integer scores, `%.17g` text scores, infinities.
#[test]
fn sorted_set_scores() {
    let (_, d) = load("redis-rdb-tools-dumps/sorted_set_as_ziplist.rdb");
    let z = d.key("sorted_set_as_ziplist");
    assert_eq!(z.encoding, Encoding::ZSetZiplist);
    assert_eq!(
        z.zset(),
        vec![
            (&b"523af537946b79c4f8369ed39ba78605"[..], 3.423),
            (b"8b6ba6718a786daefa69438148361901", 1.0),
            // Stored as the text "2.3700000000000001".
            (b"cb7a24bb7528f934b841b34c3a73e0c7", 2.37),
        ]
    );

    let (_, d) = load("valkey-tests-assets/zset-ziplist.rdb");
    assert_eq!(d.key("zset").zset(), vec![(&b"one"[..], 1.0), (b"two", 2.0)]);

    let (_, d) = load("librdb-dumps/zset_lp_v11.rdb");
    let z = d.key("myzset");
    assert_eq!(z.encoding, Encoding::ZSetListpack);
    let by_member: std::collections::HashMap<&[u8], f64> = z.zset().into_iter().collect();
    assert_eq!(by_member.len(), 24);
    assert_eq!(by_member[&b"a10"[..]], f64::NEG_INFINITY);
    assert_eq!(by_member[&b"a8"[..]], f64::INFINITY);
    assert_eq!(by_member[&b"a24"[..]], -4.329000123123131e28);
    assert_eq!(by_member[&b"a12"[..]], -9007199254740992.0, "int64 listpack entry");
    assert_eq!(by_member[&b"a16"[..]], -255.0, "13-bit listpack int");
    assert_eq!(by_member[&b"a14"[..]], -9.99999);
    assert_eq!(by_member[&b"a23"[..]], 1.000033e25);
}

/// A version-8 file whose every length uses the 9-byte `0x81` form, and a ZSET_2 of
/// 1000 members with binary scores: 999 × 1.618 and `finalfield` at 2.718.
#[test]
#[allow(clippy::approx_constant)] // 2.718 is the score the file stores, not e.
fn rdb_version_8_with_64b_lengths_and_scores() {
    let (_, d) = load("redis-rdb-tools-dumps/rdb_version_8_with_64b_length_and_scores.rdb");
    assert_eq!(d.format.unwrap().version, 8);
    assert_eq!(d.aux("redis-ver"), Some(&b"3.9.102"[..]));
    assert_eq!(d.aux("repl-id"), Some(&b"b7d7721a501c708e515388753aba35c5b5d48a57"[..]));
    assert_eq!(d.resize, [(2, 0)]);
    assert_eq!(d.key("foo").string(), b"bar");
    let z = d.key("bigset");
    assert_eq!(z.encoding, Encoding::ZSet2);
    let members = z.zset();
    assert_eq!(members.len(), 1000);
    assert_eq!(members.iter().filter(|(_, s)| *s == 1.618).count(), 999);
    assert!(members.contains(&(&b"finalfield"[..], 2.718)));
    assert!(matches!(d.checksum, Some(Checksum::Verified(_))));
}

/// stream_v11.rdb: one stream of 6 entries (one compressed listpack), 2 groups.
#[test]
fn stream_v11() {
    let (_, d) = load("librdb-dumps/stream_v11.rdb");
    let key = d.key("mystream");
    assert_eq!(key.encoding, Encoding::Stream(3));
    let s = key.stream();

    // Master ID 0x18acc8f744b-0; entries are deltas 0, 3, 1032, 378169, 388409, 243947826.
    let ids: Vec<StreamId> = s.entries.iter().map(|(id, _)| *id).collect();
    let base = 1_695_649_068_107;
    let deltas = [0, 3, 1032, 378_169, 388_409, 243_947_826];
    assert_eq!(ids, deltas.iter().map(|d| id(base + d, 0)).collect::<Vec<_>>());
    for (i, (_, fields)) in s.entries.iter().take(5).enumerate() {
        let msg = format!("Message{}", i + 1);
        assert_eq!(fields, &vec![(b"message".to_vec(), msg.into_bytes())]);
    }
    let last: Vec<(&[u8], &[u8])> = s.entries[5].1.iter().map(|(f, v)| (f.as_slice(), v.as_slice())).collect();
    assert_eq!(last, [(&b"field1"[..], &b"value1"[..]), (b"field2", b"value2"), (b"field3", b"value3")]);

    let meta = s.meta.unwrap();
    assert_eq!(meta.length, 6);
    assert_eq!(meta.last_id, id(1_695_893_015_933, 0));
    assert_eq!(meta.first_id, Some(id(base, 0)));
    assert_eq!(meta.max_deleted_id, Some(id(0, 0)));
    assert_eq!(meta.entries_added, Some(6));

    assert_eq!(s.groups.len(), 2);
    let a = &s.groups[0];
    assert_eq!(a.name, b"groupA");
    assert_eq!(a.last_id, id(1_695_649_446_276, 0));
    assert_eq!(a.entries_read, Some(4));
    assert_eq!(a.pending, [(id(1_695_649_446_276, 0), 1_695_649_446_276, 1)]);
    assert_eq!(a.consumers.len(), 2);
    assert_eq!(a.consumers[0].name, b"consumerA1");
    assert_eq!(a.consumers[0].seen_ms, 1_696_679_585_023);
    assert_eq!(a.consumers[0].active_ms, Some(1_696_679_585_023));
    assert!(a.consumers[0].pending.is_empty());
    assert_eq!(a.consumers[1].name, b"consumerA2");
    assert_eq!(a.consumers[1].seen_ms, 1_696_679_585_024);
    assert_eq!(a.consumers[1].pending, [id(1_695_649_446_276, 0)]);

    let b = &s.groups[1];
    assert_eq!(b.name, b"groupB");
    assert_eq!(b.last_id, id(1_695_649_069_139, 0));
    assert_eq!(b.entries_read, Some(3));
    assert_eq!(b.pending, [(id(1_695_649_069_139, 0), 1_695_649_069_139, 1)]);
    assert_eq!(b.consumers.len(), 1);
    assert_eq!(b.consumers[0].name, b"consumerB1");
    assert_eq!(b.consumers[0].seen_ms, 1_696_679_585_026);
    assert_eq!(b.consumers[0].active_ms, Some(1_696_679_585_026));
    assert_eq!(b.consumers[0].pending, [id(1_695_649_069_139, 0)]);
    assert_eq!(s.idmp, None);
}

/// Redis 7.4 release-candidate field-expiry hashes (types 22 and 23): absolute expiry
/// per field, 0 for none.
#[test]
fn hash_field_ttls() {
    for (file, type_byte, encoding, ttl1, ttl2) in [
        // Type 22: "03 | 81 00003fffffffe4a7 field1 value1 | 00 field3 value3 | 81 ..e24f field2 value2".
        ("hash_with_expire_v12.rdb", 22, Encoding::HashMetadataPreGa, 0x3fff_ffff_e4a7, 0x3fff_ffff_e24f),
        // Type 23: an LZF listpack of (field, value, ttl) with int64 TTLs, 0 for none.
        ("hash_lp_with_hexpire_v12.rdb", 23, Encoding::HashListpackExPreGa, 70_368_744_177_663, 70_368_744_107_663),
    ] {
        let (data, d) = load(&format!("librdb-dumps/{file}"));
        let h = d.key("myhash");
        assert_eq!(data[h.offset as usize], type_byte, "{file}");
        assert_eq!(h.encoding, encoding, "{file}");
        assert_eq!(
            h.hash(),
            vec![
                (&b"field1"[..], &b"value1"[..], Some(ttl1)),
                (b"field2", b"value2", Some(ttl2)),
                (b"field3", b"value3", None),
            ],
            "{file}"
        );
    }
}

#[test]
fn multiple_databases() {
    // "fe 00 ... 00 01 78 c0 00 | fe 01 ... 79 c0 01 | fe 02 ... 7a c0 02".
    let (_, d) = load("librdb-dumps/multiple_dbs.rdb");
    assert_eq!(d.dbs, [0, 1, 2]);
    assert_eq!(d.resize, [(1, 0), (1, 0), (1, 0)]);
    let keys: Vec<(u64, &[u8], &[u8])> = d.keys.iter().map(|k| (k.db, k.key.as_slice(), k.string())).collect();
    assert_eq!(keys, [(0, &b"x"[..], &b"0"[..]), (1, b"y", b"1"), (2, b"z", b"2")]);

    let (_, d) = load("redis-rdb-tools-dumps/multiple_databases.rdb");
    assert_eq!(d.dbs, [0, 2]);
    assert_eq!(d.key("key_in_zeroth_database").db, 0);
    assert_eq!(d.key("key_in_zeroth_database").string(), b"zero");
    assert_eq!(d.key("key_in_second_database").db, 2);
    assert_eq!(d.key("key_in_second_database").string(), b"second");
}

/// Redis tests/assets/corrupt_empty_keys.rdb: nine empty collections, all skipped.
#[test]
fn corrupt_empty_keys_are_skipped() {
    let (data, d) = load("valkey-tests-assets/corrupt_empty_keys.rdb");
    assert!(d.keys.is_empty(), "{:?}", d.key_names());
    assert_eq!(d.resize, [(9, 0)]);
    let skipped: Vec<(&[u8], Encoding, u64)> =
        d.skipped.iter().map(|s| (s.key.as_slice(), s.encoding, s.offset)).collect();
    assert_eq!(
        skipped,
        [
            (&b"set"[..], Encoding::Set, 94),
            (b"hash", Encoding::Hash, 100),
            (b"list_ziplist", Encoding::ListZiplist, 107),
            (b"zset", Encoding::ZSet2, 133),
            (b"zset_listpack", Encoding::ZSetListpack, 140),
            (b"hash_ziplist", Encoding::HashListpack, 163),
            (b"list_quicklist", Encoding::ListQuicklist, 185),
            (b"zset_ziplist", Encoding::ZSetZiplist, 202),
            (b"list_quicklist_empty_ziplist", Encoding::ListQuicklist, 228),
        ]
    );
    let type_bytes: Vec<u8> = d.skipped.iter().map(|s| data[s.offset as usize]).collect();
    assert_eq!(type_bytes, [2, 4, 10, 5, 17, 16, 14, 12, 14]);
    assert!(d.skipped.iter().all(|s| s.db == 0));
    assert!(matches!(d.checksum, Some(Checksum::Verified(_))));
}

/// FUNCTION2 (245) with an LZF-compressed library body.
#[test]
fn function_library() {
    let (data, d) = load("librdb-dumps/function.rdb");
    assert!(d.keys.is_empty());
    assert_eq!(
        d.functions,
        [b"#!lua name=mylib \n redis.register_function('myfunc', function(keys, args) return args[1] end)".to_vec()]
    );
    // "f5 c3 40 58 40 5d" at offset 85: 88 LZF bytes expanding to 93. The `lzf` crate agrees.
    assert_eq!(&data[85..91], b"\xf5\xc3\x40\x58\x40\x5d");
    assert_eq!(lzf::decompress(&data[91..91 + 88], 93).unwrap(), d.functions[0]);
    let (_, d) = load("librdb-dumps/function2.rdb");
    assert!(!d.functions.is_empty());
    assert!(d.functions.iter().all(|f| f.starts_with(b"#!lua name=")));
}

/// Pre-7.0 script bodies travel as a `lua` aux field.
#[test]
fn lua_aux() {
    let (_, d) = load("valkey-tests-assets/scriptbackup.rdb");
    assert_eq!(d.aux("lua"), Some(&b"return redis.call('set', 'foo', 'bar')"[..]));
    assert!(d.keys.is_empty());
}

/// Module values (type 7) come out opaque: the module ID and the raw opcode stream.
#[test]
fn module_values() {
    // "07 04 key1 | 81 b5eb2dfffadd6c01 | 05 06 value1 | 00".
    let (data, d) = load("librdb-dumps/module.rdb");
    let k = d.key("key1");
    assert_eq!(k.encoding, Encoding::Module2);
    assert_eq!(k.encoding.kind(), Kind::Module);
    let id = ModuleId(0xb5eb_2dff_fadd_6c01);
    assert_eq!(k.value, support::model::Val::Module(id));
    assert_eq!(id.name(), "test__rdb");
    assert_eq!(id.encver(), 1);
    let (type_byte, raw, version) = k.raw.clone().expect("module values always carry raw bytes");
    assert_eq!((type_byte, version), (7, 11));
    let start = k.offset as usize + 1 + 1 + 4;
    assert_eq!(raw, &data[start..start + 18]);
    assert_eq!(&raw[9..], b"\x05\x06value1\x00");

    // A ReJSON-RL/0 value in a 4.0 file, followed by a diskless-sync EOF mark.
    let (data, d) = load("redis-rdb-tools-dumps/redis_40_with_module.rdb");
    let k = d.key("foo");
    let Some((7, raw, 8)) = &k.raw else { panic!("{:?}", k.raw) };
    assert_eq!(raw.len(), 44);
    // Type byte at 190, "03 foo", 44 bytes of value, then EOF at 239.
    assert_eq!((k.offset, k.end, data[239]), (190, 239, 0xff));
    assert!(matches!(k.value, support::model::Val::Module(m) if m.to_string() == "ReJSON-RL/0"));
    assert_eq!(d.key("simplekey").string(), b"someval");
    assert_eq!(d.checksum, Some(Checksum::Disabled));
    assert_eq!(d.end, 248);
    assert_eq!(data.len(), 288, "40 bytes of EOF mark follow the RDB");
    assert!(data[248..].iter().all(u8::is_ascii_hexdigit));
}

/// MODULE_AUX (247): module ID, `when`, and the opcode stream up to its EOF.
#[test]
fn module_aux() {
    // "f7 81 b5eb2dfffadd6c01 02 01 00" before the keyspace, "... 02 02 00" after it.
    let (_, d) = load("librdb-dumps/module_aux.rdb");
    let test_rdb = ModuleId(0xb5eb_2dff_fadd_6c01);
    let aux: Vec<(ModuleId, u64, &[u8])> = d.module_aux.iter().map(|m| (m.module, m.when, m.raw.as_slice())).collect();
    assert_eq!(aux, [(test_rdb, 1, &[0u8][..]), (test_rdb, 2, &[0u8][..])]);
    assert_eq!(d.dbs, [9]);
    assert_eq!(d.key("x").db, 9);
    assert_eq!(d.key("x").string(), b"1");

    // "f7 81 82b6a985d6ad680d 02 01 | 02 00 00": graphdata/13, one UINT 0, then EOF.
    let (_, d) = load("librdb-dumps/module_aux_empty.rdb");
    let graph = ModuleId(0x82b6_a985_d6ad_680d);
    assert_eq!(graph.name(), "graphdata");
    assert_eq!(graph.encver(), 13);
    let aux: Vec<(ModuleId, u64, &[u8])> = d.module_aux.iter().map(|m| (m.module, m.when, m.raw.as_slice())).collect();
    assert_eq!(aux, [(graph, 1, &[2u8, 0, 0][..]), (graph, 2, &[2, 0, 0][..])]);

    let (_, d) = load("redis-rdb-tools-dumps/redis_60_with_module_aux.rdb");
    assert_eq!(d.module_aux.len(), 1);
    assert_eq!(d.module_aux[0].module, test_rdb);
    assert_eq!(d.module_aux[0].when, 2);
    assert_eq!(d.module_aux[0].raw, b"\x02\x01\x05\x07global2\x00");
}

/// Binary-safe values: NULs, high bytes, UTF-8, and an integer-encoded key (`c1 7a 01`).
#[test]
fn non_ascii_values() {
    let (_, d) = load("redis-rdb-tools-dumps/non_ascii_values.rdb");
    assert_eq!(d.keys.len(), 6);
    assert_eq!(d.key("int_value").string(), b"123");
    assert_eq!(d.key("ascii").string(), b"\x00! ~0\n\t\rAb");
    assert_eq!(d.key("bin").string(), b"\x00$ ~0\x7f\xff\n\xaa\t\x80\rAb");
    assert_eq!(d.key("printable").string(), b"!+ Ab^~");
    assert_eq!(d.key("378").string(), b"int_key_name");
    assert_eq!(d.key("utf8").string(), "בדיקה\u{1000f}123עברית".as_bytes());
}

/// Integer-encoded key names of every width.
#[test]
fn integer_keys() {
    let (_, d) = load("redis-rdb-tools-dumps/integer_keys.rdb");
    for (key, value) in [
        ("125", "Positive 8 bit integer"),
        ("-123", "Negative 8 bit integer"),
        ("43947", "Positive 16 bit integer"),
        ("-29477", "Negative 16 bit integer"),
        ("183358245", "Positive 32 bit integer"),
        ("-183358245", "Negative 32 bit integer"),
    ] {
        assert_eq!(d.key(key).string(), value.as_bytes());
    }
}

/// LFU counter (`f9 05`) and LRU idle time (`f8 18`) prefixes.
#[test]
fn memory_policy_prefixes() {
    let (_, d) = load("librdb-dumps/mem_policy_lfu.rdb");
    let k = d.key("abcdefghijk");
    assert_eq!((k.freq, k.idle_secs), (Some(5), None));
    assert_eq!(k.string(), b"012345789abcdefghik");
    let (_, d) = load("librdb-dumps/mem_policy_lru.rdb");
    let k = d.key("abcdefghijk");
    assert_eq!((k.freq, k.idle_secs), (None, Some(24)));
}

/// SLOT_INFO (244): `f4 5d d6 01 00` is slot 0x1dd6, one key, no expires.
#[test]
fn cluster_slot_info() {
    let (_, d) = load("librdb-dumps/cluster_slot_info.rdb");
    assert_eq!(d.slot_info, [(7638, 1, 0)]);
    assert_eq!(d.key("abc").string(), b"abc");
}

#[test]
fn lists_in_quicklists() {
    let (_, d) = load("valkey-tests-assets/list-quicklist.rdb");
    assert_eq!(d.key("list").encoding, Encoding::ListQuicklist);
    assert_eq!(d.key("list").list(), [b"7"]);
    assert_eq!(d.key("x").string(), b"7");

    let (_, d) = load("librdb-dumps/quicklist2_v11.rdb");
    assert_eq!(d.key("mylist").encoding, Encoding::ListQuicklist2);
    assert_eq!(d.key("mylist").list(), [b"val3", b"val2", b"val1"]);
}

#[test]
fn listpack_set_and_ziplist_hash() {
    let (_, d) = load("librdb-dumps/set_lp_v11.rdb");
    let s = d.key("myset");
    assert_eq!(s.encoding, Encoding::SetListpack);
    let expected: Vec<&[u8]> = vec![b"1", b"1.1", b"1.2", b"1.3", b"2", b"3", b"a", b"b", b"c"];
    assert_eq!(s.set(), expected);

    let (_, d) = load("valkey-tests-assets/hash-ziplist.rdb");
    assert_eq!(d.key("hash").hash(), vec![(&b"f1"[..], &b"v1"[..], None), (b"f2", b"v2", None)]);
}

// ---- The files built to fail ----

/// `REDIS0099`: the version is read, and refused.
#[test]
fn future_version_is_unsupported() {
    let data = fixture("librdb-dumps/future_v19.rdb");
    assert_eq!(&data[..9], b"REDIS0099");
    let err = support::whole(&data).unwrap_err();
    assert_eq!(err, Error::UnsupportedVersion { flavor: "REDIS", version: 99 });
    assert!(err.to_string().contains("99"), "{err}");
}

/// The stored CRC (last 8 bytes) is not the CRC-64 of the bytes before it.
#[test]
fn invalid_checksum_is_detected() {
    let data = fixture("librdb-dumps/invalid_chksum_v8.rdb");
    let body = data.len() - 8;
    assert_eq!(data[body - 1], 0xff, "EOF opcode before the trailer");
    let stored = u64::from_le_bytes(data[body..].try_into().unwrap());
    let actual = replicant_rdb::crc64(&data[..body]);
    assert_ne!(stored, actual);
    let err = support::whole(&data).unwrap_err();
    assert_eq!(err, Error::ChecksumMismatch { offset: body as u64, expected: stored, actual });
    assert!(err.to_string().contains(&format!("at offset {body}")));
    let text = err.to_string();
    assert!(text.contains(&format!("{stored:#018x}")) && text.contains(&format!("{actual:#018x}")), "{text}");
}

/// Redis Enterprise's RAM_LRU opcode 107 (0x6b) at offset 280 of a REDIS0012 file.
#[test]
fn enterprise_opcode_is_an_unknown_type() {
    let data = fixture("librdb-dumps/redis_ent_opcode_ram_lru.rdb");
    assert_eq!(data[280], 0x6b);
    let err = support::whole(&data).unwrap_err();
    assert_eq!(err, Error::UnknownType { byte: 107, offset: 280, flavor: "REDIS", version: 12 });
    assert!(err.to_string().contains("offset 280"), "{err}");
}

/// A hash-ziplist (type 13 at offset 470) whose value string at offset 488 is the 5 bytes
/// "xxxxx": its header claims 0x78787878 bytes.
#[test]
fn corrupt_ziplist_is_corrupt() {
    let data = fixture("valkey-tests-assets/corrupt_ziplist.rdb");
    assert_eq!(data[470], 13);
    assert_eq!(&data[488..494], b"\x05xxxxx");
    let err = support::whole(&data).unwrap_err();
    let Error::Corrupt { offset, what } = &err else { panic!("{err:?}") };
    assert_eq!(*offset, 488);
    assert!(what.contains("ziplist"), "{what}");
    assert!(err.to_string().contains("offset 488"), "{err}");
}

/// The same errors whatever the chunking.
#[test]
fn failures_do_not_depend_on_chunking() {
    for name in support::BUILT_TO_FAIL {
        let data = fixture(name);
        let whole = support::whole(&data).unwrap_err();
        let bytewise = support::events(&data, Default::default(), || 1).unwrap_err();
        assert_eq!(whole, bytewise, "{name}");
    }
}
