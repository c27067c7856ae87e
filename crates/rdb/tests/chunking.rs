//! The sans-IO contract: events do not depend on how the input is split, and the caller
//! never has to buffer more than the configuration allows.
//!
//! - Every fixture that should parse gives the same events fed whole, one byte at a
//!   time and split at seeded random offsets, under several configurations (compared
//!   like with like: batching legitimately differs between configurations, but the
//!   decoded content does not).
//! - Raw values: present for small values by default and byte-exact (re-parsing one as a
//!   single-key RDB gives the same value), absent with `raw_value_max(0)`.
//! - Minimal buffering: a driver that only ever supplies exactly the bytes `NeedMore`
//!   asks for never holds more than `max(batch_bytes, raw_value_max)` plus the parser's
//!   64 KiB release step and slack, even for a 5 MB string and a 100k-member set (generated in-test with `support::writer`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use replicant_rdb::{Flavor, Kind, ParserConfig};
use support::model::{decode_with, Dump};
use support::writer::RdbWriter;
use support::{events, good_fixtures, random_chunks, run, whole_with};

/// Configurations the fixtures are run under.
fn configs() -> Vec<(&'static str, ParserConfig)> {
    vec![
        ("default", ParserConfig::default()),
        ("small batches", ParserConfig::default().batch_items(3).batch_bytes(64)),
        ("one item per batch, no raw", ParserConfig::default().batch_items(1).batch_bytes(1).raw_value_max(0)),
        ("small raw", ParserConfig::default().batch_items(7).batch_bytes(1000).raw_value_max(100)),
        ("inline strings", ParserConfig::default().inline_strings(true)),
        (
            "inline strings, small pieces",
            ParserConfig::default().inline_strings(true).batch_bytes(16).raw_value_max(64),
        ),
    ]
}

/// Seeds and the largest chunk each one draws.
const SPLITS: [(u64, usize); 4] = [(1, 16), (2, 256), (3, 4096), (4, 4096)];

#[test]
fn fixtures_fed_whole_bytewise_and_randomly_agree() {
    for fx in good_fixtures() {
        for (label, cfg) in configs() {
            let whole = whole_with(&fx.data, cfg.clone()).unwrap_or_else(|e| panic!("{} ({label}): {e}", fx.name));
            assert!(whole.last().is_some_and(|e| e.starts_with("End(")), "{} ({label})", fx.name);

            let bytewise = events(&fx.data, cfg.clone(), || 1).unwrap();
            assert_eq!(whole, bytewise, "{} ({label}): one byte at a time", fx.name);

            for (seed, max) in SPLITS {
                let split = events(&fx.data, cfg.clone(), random_chunks(seed, max)).unwrap();
                assert_eq!(whole, split, "{} ({label}): seed {seed}, chunks 1..={max}", fx.name);
            }
        }
    }
}

/// Batching changes the events but not what they add up to.
#[test]
fn configurations_decode_to_the_same_content() {
    for fx in good_fixtures() {
        let reference = decode_with(&fx.data, ParserConfig::default(), || usize::MAX).unwrap().without_raw();
        for (label, cfg) in configs() {
            let dump = decode_with(&fx.data, cfg, random_chunks(7, 512)).unwrap().without_raw();
            assert_eq!(reference, dump, "{} ({label})", fx.name);
        }
    }
}

/// A configuration that cannot hold some fixture's packed containers must fail the same
/// way (same events before, same error) however the input is split.
#[test]
fn tight_max_buffered_fails_the_same_way_however_split() {
    let cfg = ParserConfig::default().max_buffered(1024).batch_bytes(100);
    let mut failures = 0;
    for fx in good_fixtures() {
        let whole = run(&fx.data, cfg.clone(), || usize::MAX);
        failures += usize::from(whole.result.is_err());
        for (seed, max) in SPLITS {
            let split = run(&fx.data, cfg.clone(), random_chunks(seed, max));
            assert_eq!(whole, split, "{}: seed {seed}", fx.name);
        }
        assert_eq!(whole, run(&fx.data, cfg.clone(), || 1), "{}: bytewise", fx.name);
    }
    assert!(failures > 0, "expected some fixture to exceed a 1 KiB max_buffered");
}

/// A single-key RDB holding `raw` as the value of `key`, in the same format.
fn single_key_rdb(dump: &Dump, key: &[u8], type_byte: u8, raw: &[u8]) -> Vec<u8> {
    let format = dump.format.unwrap();
    let mut w = match format.flavor {
        Flavor::Redis => RdbWriter::new(format.version),
        Flavor::Valkey => RdbWriter::valkey(format.version),
    };
    w.select_db(0).byte(type_byte).string(key).raw(raw);
    w.finish()
}

#[test]
fn small_values_come_out_raw_and_exact() {
    let mut checked = 0;
    for fx in good_fixtures() {
        let dump = decode_with(&fx.data, ParserConfig::default(), || usize::MAX).unwrap();
        let version = dump.format.unwrap().version;
        for key in &dump.keys {
            let name = format!("{} key {:?}", fx.name, String::from_utf8_lossy(&key.key));
            // Every value in the corpus is far below the default 512 KiB.
            let (type_byte, raw, raw_version) = key.raw.as_ref().unwrap_or_else(|| panic!("{name}: no raw"));
            assert_eq!(*type_byte, fx.data[key.offset as usize], "{name}");
            assert_eq!(u32::from(*raw_version), version, "{name}");
            assert!(raw.len() < 512 << 10);
            // They are the bytes just before the key's end.
            let end = key.end as usize;
            assert_eq!(&fx.data[end - raw.len()..end], raw.as_slice(), "{name}");

            // The raw bytes are exactly the value: alone in an RDB, they decode the same.
            let alone = single_key_rdb(&dump, &key.key, *type_byte, raw);
            let again = support::model::decode(&alone);
            assert_eq!(again.keys.len(), 1, "{name}");
            assert_eq!(again.keys[0].value, key.value, "{name}");
            assert_eq!(again.keys[0].encoding, key.encoding, "{name}");
            assert_eq!(again.keys[0].raw.as_ref().map(|r| &r.1), Some(raw), "{name}");
            checked += 1;
        }
    }
    assert!(checked > 300, "only {checked} keys checked");
}

#[test]
fn raw_values_follow_raw_value_max() {
    for fx in good_fixtures() {
        let full = decode_with(&fx.data, ParserConfig::default(), || usize::MAX).unwrap();
        let none = decode_with(&fx.data, ParserConfig::default().raw_value_max(0), random_chunks(5, 64)).unwrap();
        let some = decode_with(&fx.data, ParserConfig::default().raw_value_max(16), random_chunks(6, 64)).unwrap();
        for ((f, n), s) in full.keys.iter().zip(&none.keys).zip(&some.keys) {
            let name = format!("{} key {:?}", fx.name, String::from_utf8_lossy(&f.key));
            let len = f.raw.as_ref().map(|r| r.1.len()).unwrap();
            if f.encoding.kind() == Kind::Module {
                // Module values are opaque: their bytes always come raw (bounded by max_buffered).
                assert_eq!(n.raw, f.raw, "{name}");
                assert_eq!(s.raw, f.raw, "{name}");
            } else {
                assert_eq!(n.raw, None, "{name}: raw_value_max(0)");
                let expected = if len <= 16 { f.raw.clone() } else { None };
                assert_eq!(s.raw, expected, "{name}: raw_value_max(16), value of {len} bytes");
            }
        }
    }
}

/// The parser hands consumed input back in steps of up to this much (`RELEASE_STEP` in
/// `src/parser.rs`), so that the CRC runs over long slices.
const RELEASE_STEP: usize = 64 << 10;

/// Five megabytes of string, a 100k-member set, and a small key after them.
fn big_rdb() -> Vec<u8> {
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let members = (0..100_000u32).map(|i| format!("member:{i:08}"));
    let mut w = RdbWriter::new(10);
    w.aux(b"redis-ver", b"7.0.0")
        .select_db(0)
        .resize_db(3, 0)
        .byte(0)
        .string(b"big-string")
        .len32(big.len() as u32)
        .raw(&big)
        .set_key(b"big-set", members)
        .string_key(b"after", b"small");
    w.finish()
}

#[test]
fn minimal_buffering_stays_bounded() {
    let data = big_rdb();
    assert!(data.len() > 6_000_000);
    for cfg in [
        ParserConfig::default(),
        ParserConfig::default().batch_bytes(64 << 10).raw_value_max(16 << 10),
        ParserConfig::default().batch_bytes(4 << 10).batch_items(10).raw_value_max(0),
        ParserConfig::default().batch_bytes(1 << 10).raw_value_max(200 << 10),
    ] {
        // What the parser may hold is max(batch_bytes, raw_value_max) plus one element (no
        // element here is bigger than a key name or a set member); on top of that, consumed
        // input is released in steps of up to RELEASE_STEP.
        let bound = cfg.batch_bytes.max(cfg.raw_value_max) + RELEASE_STEP + 1024;
        let stats = support::minimal(&data, cfg.clone()).unwrap();
        assert_eq!(stats.string_bytes, 5_000_000 + 5);
        assert_eq!(stats.items, 100_000);
        assert!(stats.max_buffer <= bound, "{cfg:?}: buffer reached {} (bound {bound})", stats.max_buffer);
        assert!(stats.max_needed <= bound, "{cfg:?}: asked for {} (bound {bound})", stats.max_needed);
    }
}

#[test]
fn big_values_decode_the_same_in_chunks() {
    let data = big_rdb();
    let cfg = ParserConfig::default().batch_bytes(64 << 10).raw_value_max(16 << 10);
    let whole = decode_with(&data, cfg.clone(), || usize::MAX).unwrap();
    let split = decode_with(&data, cfg, random_chunks(11, 100_000)).unwrap();
    assert_eq!(whole, split);
    let s = whole.key("big-string");
    assert_eq!(s.raw, None);
    assert_eq!(s.string().len(), 5_000_000);
    assert!(s.string().iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    let set = whole.key("big-set").set();
    assert_eq!(set.len(), 100_000);
    assert_eq!(set[99_999], b"member:00099999");
    assert_eq!(whole.key("after").string(), b"small");
    assert!(whole.key("after").raw.is_some());
}

/// An empty collection is skipped (as Redis skips it on load) whatever `raw_value_max`.
///
/// Repro (an empty plain set, type 2):
/// `52 45 44 49 53 30 30 31 30 fe 00 02 03 73 65 74 00 ff 59 fc 77 97 5d 0a 70 66`
/// (`REDIS0010 fe 00 02 03 "set" 00 ff <crc>`). With the default config the events are
/// `Header, SelectDb, EmptyKeySkipped { key: "set", encoding: Set, offset: 11 }, End`; with
/// `raw_value_max(0)` they are `Header, SelectDb, Key { key: "set", raw: None, .. },
/// KeyEnd { offset: 17 }, End`: a key with no value at all. The key is handed out before
/// its value is read whenever the value cannot be raw, so the same happens for any empty
/// value longer than `raw_value_max`, e.g. an empty 11-byte ziplist (type 10) with
/// `raw_value_max(8)`.
#[test]
fn empty_collections_are_skipped_whatever_raw_value_max() {
    let mut w = RdbWriter::new(10);
    w.select_db(0).byte(2).string(b"set").len(0);
    // An empty ziplist (zlbytes 11, zltail 10, zllen 0, end) as a type-10 list.
    w.byte(10).string(b"zl").string(&[11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xff]);
    let data = w.finish();
    for raw_max in [512 << 10, 64, 8, 0] {
        let dump = decode_with(&data, ParserConfig::default().raw_value_max(raw_max), || usize::MAX).unwrap();
        assert!(dump.keys.is_empty(), "raw_value_max({raw_max}): {:?}", dump.keys);
        let skipped: Vec<&[u8]> = dump.skipped.iter().map(|s| s.key.as_slice()).collect();
        assert_eq!(skipped, [&b"set"[..], b"zl"], "raw_value_max({raw_max})");
    }
    let files = support::fixture("valkey-tests-assets/corrupt_empty_keys.rdb");
    let dump = decode_with(&files, ParserConfig::default().raw_value_max(0), || usize::MAX).unwrap();
    assert!(dump.keys.is_empty());
    assert_eq!(dump.skipped.len(), 9);
}

/// A string in each of its encodings (plain, 8/16/32-bit integer, LZF with zero padding
/// as `DEBUG POPULATE` writes, LZF with a repeating 3-byte pattern) decodes the same when
/// the whole value is in the input (the parser's fast path) and when it arrives a byte at
/// a time (the general string decoder), under every configuration.
#[test]
fn strings_in_every_encoding_agree_on_both_paths() {
    let padded = [&b"value:12"[..], &[0u8; 24]].concat();
    let pattern = b"abc".repeat(40);
    let mut w = RdbWriter::new(10);
    w.select_db(0).string_key(b"plain", b"hello");
    w.byte(0).string(b"int8").raw(&[0xc0, 0xfe]);
    w.byte(0).string(b"int16").raw(&[0xc1, 0x39, 0x30]);
    w.byte(0).string(b"int32").raw(&[0xc2, 0xff, 0xff, 0xff, 0x7f]);
    for (key, text) in [(&b"lzf-padded"[..], &padded), (b"lzf-pattern", &pattern)] {
        let packed = lzf::compress(text).unwrap();
        w.byte(0).string(key).byte(0xc3).len(packed.len() as u64).len(text.len() as u64).raw(&packed);
    }
    let data = w.finish();
    for (label, cfg) in configs() {
        let whole = decode_with(&data, cfg.clone(), || usize::MAX).unwrap();
        assert_eq!(whole, decode_with(&data, cfg.clone(), || 1).unwrap(), "{label}");
        assert_eq!(events(&data, cfg.clone(), || usize::MAX).unwrap(), events(&data, cfg, || 1).unwrap(), "{label}");
        assert_eq!(whole.key("plain").string(), b"hello", "{label}");
        assert_eq!(whole.key("int8").string(), b"-2", "{label}");
        assert_eq!(whole.key("int16").string(), b"12345", "{label}");
        assert_eq!(whole.key("int32").string(), b"2147483647", "{label}");
        assert_eq!(whole.key("lzf-padded").string(), padded, "{label}");
        assert_eq!(whole.key("lzf-pattern").string(), pattern, "{label}");
    }
}

/// With `inline_strings`, a string that is one piece and raw comes with its key (the same
/// whether read whole or a byte at a time); a longer one still comes in pieces.
#[test]
fn inline_strings_come_with_their_key() {
    let long = vec![b'x'; 100];
    let mut w = RdbWriter::new(10);
    w.select_db(0).string_key(b"short", b"hello").string_key(b"long", &long);
    w.byte(0).string(b"int16").raw(&[0xc1, 0x39, 0x30]);
    let data = w.finish();
    let cfg = ParserConfig::default().inline_strings(true).batch_bytes(64);
    let whole = events(&data, cfg.clone(), || usize::MAX).unwrap();
    assert_eq!(whole, events(&data, cfg, || 1).unwrap());
    let keys: Vec<&String> = whole.iter().filter(|e| e.starts_with("Key(")).collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0].contains("value: Some([104, 101, 108, 108, 111])"), "{}", keys[0]);
    assert!(keys[1].contains("value: None"), "{}: 100 bytes are two pieces of 64", keys[1]);
    assert!(keys[2].contains("value: Some([49, 50, 51, 52, 53])"), "{}", keys[2]);
    // Two pieces and one KeyEnd, for the long string only.
    assert_eq!(whole.iter().filter(|e| e.starts_with("Value(")).count(), 2);
    assert_eq!(whole.iter().filter(|e| e.starts_with("KeyEnd")).count(), 1);
}

/// Plain collections are read several elements per step, up to the room left in the open
/// batch (items and bytes): the batches are those of one element per step, whole, byte
/// by byte or in random chunks, under item and byte limits that fall mid-step, with a
/// corrupt element at the end failing at the same point after the same events.
#[test]
fn plain_collections_batch_the_same_however_many_elements_a_step_reads() {
    let members: Vec<String> = (0..1000).map(|i| format!("member-{}", "x".repeat(i % 37))).collect();
    let fields: Vec<(Vec<u8>, Vec<u8>)> =
        (0..300).map(|i| (format!("f{i}").into_bytes(), "v".repeat(i % 50).into_bytes())).collect();
    let field_refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(f, v)| (f.as_slice(), v.as_slice())).collect();
    let mut w = RdbWriter::new(10);
    w.select_db(0).set_key(b"set", &members).hash_key(b"hash", &field_refs);
    let good = w.finish();
    // The same set, its last member claiming more bytes than the limit allows.
    let mut w = RdbWriter::new(10);
    w.select_db(0).byte(2).string(b"set").len(3).string(b"a").string(b"b").len32(1 << 30);
    let bad = w.finish_unchecked();
    for cfg in [
        ParserConfig::default().batch_items(7).batch_bytes(50),
        ParserConfig::default().batch_items(100).batch_bytes(300).raw_value_max(1000),
        ParserConfig::default().batch_items(1000).batch_bytes(1 << 20).raw_value_max(0).max_buffered(1 << 20),
    ] {
        let whole = events(&good, cfg.clone(), || usize::MAX).unwrap();
        assert_eq!(whole, events(&good, cfg.clone(), || 1).unwrap(), "{cfg:?}: byte by byte");
        assert_eq!(whole, events(&good, cfg.clone(), random_chunks(9, 700)).unwrap(), "{cfg:?}: chunks");
        let failed = run(&bad, cfg.clone(), || usize::MAX);
        assert!(failed.result.is_err(), "{cfg:?}");
        assert_eq!(failed, run(&bad, cfg.clone(), || 1), "{cfg:?}: the corrupt member, byte by byte");
    }
}
