//! Hostile input: the parser must return an error (never panic, never succeed wrongly,
//! never allocate from an unchecked length) on cut-off, bit-flipped, garbage and
//! oversized input.
//!
//! - Truncation of small fixtures at every offset ends in `Truncated` at that offset,
//!   after a prefix of the full run's events; only a cut at or after the RDB's end (before
//!   trailing bytes) succeeds.
//! - Byte flips of a few fixtures, with the stored checksum kept and recomputed: no panic,
//!   and every error names its offset or concerns the whole stream.
//! - Checksums: a wrong trailer gives `ChecksumMismatch`, a zero one `Disabled`.
//! - Random garbage after a valid header never panics.
//! - Declared lengths of 2^62 give `TooLarge` (or, for values that stream, including
//!   compressed string values, `Truncated` or `Corrupt`) without allocating.
//! - A deterministic mutation loop over the small fixtures (20k inputs), which also checks
//!   that the outcome does not depend on how the input is split. It stands in for the
//!   cargo-fuzz target in `fuzz/` where nightly is not available.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replicant_rdb::{crc64, Checksum, Error, ParserConfig};
use support::model::{decode_with, Dump};
use support::writer::{fix_crc, RdbWriter};
use support::{acceptable_error, fixture, hex, random_chunks, run, small_fixtures, whole, whole_with, Run};

/// A configuration small enough that fixtures exercise batching, raw cut-offs and the
/// `max_buffered` bound.
fn small_cfg() -> ParserConfig {
    ParserConfig::default().batch_items(5).batch_bytes(256).raw_value_max(128).max_buffered(64 << 10)
}

/// Runs `data` whole and split, checks the outcome is sound and split-independent, and
/// reports the input on a panic so that the failure can be replayed.
///
/// When the input parses, it must also decode to well-formed events (the model's
/// invariants: values inside keys, no empty batches, group pieces after their group) and
/// to the same content under the default configuration, fed in other chunks.
fn check(label: &str, data: &[u8], seed: u64) -> Run {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let whole = run(data, small_cfg(), || usize::MAX);
        let split = run(data, small_cfg(), random_chunks(seed, 64));
        let content = whole.result.is_ok().then(|| {
            let small = decode_with(data, small_cfg(), || usize::MAX).map(Dump::without_raw);
            let default = decode_with(data, ParserConfig::default(), random_chunks(seed, 7)).map(Dump::without_raw);
            (small, default)
        });
        (whole, split, content)
    }));
    let (whole, split, content) = match outcome {
        Ok(runs) => runs,
        Err(e) => {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{label}: panicked ({msg:?}) on input {}", hex(data))
        }
    };
    if let Err(e) = &whole.result {
        assert!(acceptable_error(e), "{label}: error without an offset: {e:?}\ninput {}", hex(data));
    }
    assert_eq!(whole, split, "{label}: outcome depends on the split (seed {seed})\ninput {}", hex(data));
    if let Some((small, default)) = content {
        assert_eq!(small, default, "{label}: content depends on the configuration\ninput {}", hex(data));
    }
    whole
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let fixtures = small_fixtures(6000);
    assert!(fixtures.len() > 60);
    for fx in fixtures {
        let full = run(&fx.data, ParserConfig::default(), || usize::MAX);
        let end = full.result.clone().unwrap() as usize;
        for cut in 0..fx.data.len() {
            let prefix = &fx.data[..cut];
            let part = run(prefix, ParserConfig::default(), || usize::MAX);
            if cut >= end {
                // Only trailing bytes (a diskless-sync EOF mark) were cut.
                assert_eq!(part, full, "{} cut at {cut}", fx.name);
                continue;
            }
            match &part.result {
                Err(Error::Truncated { offset, .. }) => assert_eq!(*offset, cut as u64, "{}", fx.name),
                other => panic!("{} cut at {cut} of {}: {other:?}", fx.name, fx.data.len()),
            }
            assert!(
                full.events.starts_with(&part.events),
                "{} cut at {cut}: events differ from the full run's",
                fx.name
            );
        }
    }
}

#[test]
fn truncation_in_chunks_and_small_batches_is_an_error() {
    for fx in small_fixtures(1200) {
        let full = run(&fx.data, small_cfg(), || usize::MAX);
        let end = full.result.clone().unwrap() as usize;
        for cut in 0..end {
            let part = run(&fx.data[..cut], small_cfg(), random_chunks(cut as u64, 32));
            assert!(
                matches!(part.result, Err(Error::Truncated { offset, .. }) if offset == cut as u64),
                "{} cut at {cut}: {:?}",
                fx.name,
                part.result
            );
            assert!(full.events.starts_with(&part.events), "{} cut at {cut}", fx.name);
        }
    }
}

/// Files with varied encodings: plain, packed, compressed, streams, modules, functions.
const FLIP_TARGETS: [&str; 10] = [
    "valkey-tests-assets/encodings.rdb",
    "librdb-dumps/stream_v11.rdb",
    "librdb-dumps/hash_lp_with_hexpire_v12.rdb",
    "librdb-dumps/hash_with_expire_v12.rdb",
    "librdb-dumps/zset_lp_v11.rdb",
    "librdb-dumps/module_aux.rdb",
    "librdb-dumps/function.rdb",
    "librdb-dumps/hash_zm_v2.rdb",
    "librdb-dumps/quicklist2_v11.rdb",
    "valkey-tests-assets/corrupt_empty_keys.rdb",
];

#[test]
fn byte_flips_never_panic() {
    let mut outcomes = [0usize; 2];
    for name in FLIP_TARGETS {
        let data = fixture(name);
        let has_crc = !matches!(whole(&data).unwrap().last().map(String::as_str), Some("End(Absent)"));
        for pos in 0..data.len() {
            for mask in [0x01u8, 0x10, 0x80, 0xff] {
                let mut m = data.clone();
                m[pos] ^= mask;
                let label = format!("{name}: byte {pos} ^ {mask:#04x}");
                let r = check(&label, &m, pos as u64);
                outcomes[usize::from(r.result.is_ok())] += 1;
                if has_crc && pos < data.len() - 8 {
                    // Also judge the flipped body on its structure alone.
                    fix_crc(&mut m);
                    let r = check(&format!("{label}, CRC fixed"), &m, pos as u64);
                    outcomes[usize::from(r.result.is_ok())] += 1;
                }
            }
        }
    }
    // Both outcomes occur: most flips are caught, some only change a value.
    assert!(outcomes[0] > 1000 && outcomes[1] > 100, "{outcomes:?}");
}

#[test]
fn wrong_checksums_are_mismatches() {
    let mut checked = 0;
    for fx in small_fixtures(usize::MAX) {
        let full = run(&fx.data, ParserConfig::default(), || usize::MAX);
        let Some(last) = full.events.last() else { continue };
        if !last.starts_with("End(Verified(") {
            continue;
        }
        let end = full.result.unwrap() as usize;
        let actual = crc64(&fx.data[..end - 8]);
        for byte in end - 8..end {
            let mut m = fx.data.clone();
            m[byte] ^= 0x40;
            let expected = u64::from_le_bytes(m[end - 8..end].try_into().unwrap());
            let err = whole(&m).unwrap_err();
            let offset = (end - 8) as u64;
            assert_eq!(err, Error::ChecksumMismatch { offset, expected, actual }, "{}", fx.name);
        }
        checked += 1;
    }
    assert!(checked > 30);

    // A flipped value byte that keeps the structure valid is caught by the checksum only.
    let mut w = RdbWriter::new(11);
    w.select_db(0).string_key(b"k", b"hello");
    let mut data = w.finish();
    let pos = data.windows(5).position(|w| w == b"hello").unwrap();
    data[pos] = b'j';
    let stored = u64::from_le_bytes(data[data.len() - 8..].try_into().unwrap());
    let actual = crc64(&data[..data.len() - 8]);
    let offset = (data.len() - 8) as u64;
    assert_eq!(whole(&data).unwrap_err(), Error::ChecksumMismatch { offset, expected: stored, actual });

    // A zero trailer means checksums were off: accepted as Disabled.
    let unchecked = w.finish_unchecked();
    let events = whole(&unchecked).unwrap();
    assert_eq!(events.last().unwrap(), &format!("End({:?})", Checksum::Disabled));
}

#[test]
fn garbage_after_a_header_never_panics() {
    let magics: [&[u8]; 8] = [
        b"REDIS0001",
        b"REDIS0003",
        b"REDIS0006",
        b"REDIS0009",
        b"REDIS0011",
        b"REDIS0012",
        b"REDIS0013",
        b"VALKEY080",
    ];
    let mut rng = StdRng::seed_from_u64(0x6a7b);
    for i in 0..3000u64 {
        let magic = magics[(i % magics.len() as u64) as usize];
        let len = rng.random_range(0..600);
        let mut data = magic.to_vec();
        data.extend((0..len).map(|_| rng.random::<u8>()));
        check(&format!("garbage #{i}"), &data, i);
        // Also after a plausible start: a database and a key type.
        data.truncate(magic.len());
        data.extend_from_slice(&[0xfe, 0x00, (i % 27) as u8]);
        data.extend((0..len).map(|_| rng.random::<u8>()));
        check(&format!("garbage after a type byte #{i}"), &data, i);
    }
}

/// `REDIS0011 fe 00` then `body`, an EOF and a CRC.
fn rdb_with(body: &[u8]) -> Vec<u8> {
    let mut w = RdbWriter::new(11);
    w.select_db(0).raw(body);
    w.finish()
}

/// A length prefix of 2^62 in the 9-byte form.
fn huge() -> Vec<u8> {
    let mut v = vec![0x81];
    v.extend_from_slice(&(1u64 << 62).to_be_bytes());
    v
}

/// Lengths far beyond any buffer are refused before anything is sized from them.
#[test]
fn huge_declared_lengths_are_too_large() {
    let h = huge();
    let cases: Vec<(&str, Vec<u8>, u64)> = vec![
        // Key name (type 0, then the key string at offset 12).
        ("key name", [&[0u8][..], &h].concat(), 12),
        // Set member after "02 01 k 01" (count 1).
        ("set member", [&[2u8, 1, b'k', 1][..], &h].concat(), 15),
        // Hash field value.
        ("hash value", [&[4u8, 1, b'k', 1, 1, b'f'][..], &h].concat(), 17),
        // A ziplist blob (type 10).
        ("ziplist blob", [&[10u8, 1, b'k'][..], &h].concat(), 14),
        // LZF set member (held whole, unlike a string value): compressed length 2^62.
        ("lzf clen", [&[2u8, 1, b'k', 1, 0xc3][..], &h, &[0x05]].concat(), 15),
        // LZF set member: decompressed length 2^62.
        ("lzf ulen", [&[2u8, 1, b'k', 1, 0xc3, 0x05][..], &h].concat(), 15),
        // A stream's listpack, after 1 node and its 16-byte master ID.
        ("stream listpack", [&[21u8, 1, b's', 1, 16][..], &[0; 16], &h].concat(), 32),
    ];
    for cfg in [ParserConfig::default().max_buffered(1 << 20), ParserConfig::default()] {
        for (what, body, offset) in &cases {
            let data = rdb_with(body);
            let err = whole_with(&data, cfg.clone()).unwrap_err();
            let Error::TooLarge { len, limit, offset: at, .. } = &err else { panic!("{what}: {err:?}") };
            assert_eq!((*len, *limit), (1 << 62, cfg.max_buffered), "{what}");
            assert_eq!(at, offset, "{what}: {err}");
            assert!(err.to_string().contains(&format!("offset {offset}")), "{err}");
            // Fed a byte at a time the answer is the same.
            assert_eq!(support::events(&data, cfg.clone(), || 1).unwrap_err(), err, "{what}");
        }
    }

    // Aux values and module strings, which are skipped rather than held.
    let mut w = RdbWriter::new(11);
    w.byte(0xfa).string(b"k").raw(&h);
    let err = whole_with(&w.finish(), ParserConfig::default().max_buffered(1 << 20)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { len, .. } if len == 1 << 62), "aux: {err:?}");

    let mut w = RdbWriter::new(11);
    w.select_db(0).byte(7).string(b"m").len64(0xb5eb_2dff_fadd_6c01).byte(5).raw(&h).raw(b"xyz");
    let err = whole_with(&w.finish(), ParserConfig::default().max_buffered(1 << 20)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "module string: {err:?}");
}

/// A string value or a collection count may legitimately be huge: those stream, so a
/// short input is merely truncated, and nothing is sized from the declared length.
#[test]
fn huge_streaming_values_are_truncated_not_allocated() {
    let h = huge();
    let cfg = ParserConfig::default().max_buffered(1 << 20).batch_bytes(4096).raw_value_max(1024);

    // A string value of 2^62 bytes with 100 kB of it present.
    let data = [&b"REDIS0011\xfe\x00\x00\x01k"[..], &h, &vec![b'x'; 100_000]].concat();
    let r = run(&data, cfg.clone(), || usize::MAX);
    assert!(matches!(r.result, Err(Error::Truncated { offset, .. }) if offset == data.len() as u64), "{:?}", r.result);
    assert!(r.events.iter().filter(|e| e.starts_with("Value(String(")).count() >= 20);
    assert!(matches!(support::minimal(&data, cfg.clone()), Err(Error::Truncated { .. })));

    // LZF string values declaring 2^62 compressed or decompressed bytes: expanded as a
    // stream, so cut off or corrupt, never sized from the declared lengths.
    let packed = lzf::compress(&vec![b'x'; 100_000]).unwrap();
    for (what, lens) in
        [("clen", [&h[..], &[0x80, 0, 1, 0x86, 0xa0]].concat()), ("ulen", [&[0x40, 0xff][..], &h].concat())]
    {
        let data = [&b"REDIS0011\xfe\x00\x00\x01k\xc3"[..], &lens, &packed].concat();
        let r = run(&data, cfg.clone(), || usize::MAX);
        assert!(
            matches!(r.result, Err(Error::Truncated { .. }) | Err(Error::Corrupt { .. })),
            "lzf {what}: {:?}",
            r.result
        );
        assert_eq!(r, run(&data, cfg.clone(), || 1), "lzf {what}: byte by byte");
    }

    // Sets, lists, hashes and sorted sets declaring 2^62 elements, with two present.
    for ty in [1u8, 2, 3, 4, 5] {
        let elems: &[u8] = if ty == 4 { b"\x01a\x01b\x01c\x01d" } else { b"\x01a\x031.0\x01b\x032.0" };
        let data = [&b"REDIS0011\xfe\x00"[..], &[ty, 1, b'k'], &h, elems].concat();
        let r = run(&data, cfg.clone(), || usize::MAX);
        assert!(
            matches!(r.result, Err(Error::Truncated { .. }) | Err(Error::Corrupt { .. })),
            "type {ty}: {:?}",
            r.result
        );
    }
}

/// Packed containers whose headers lie about their size or count.
#[test]
fn lying_container_headers_are_corrupt() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Intset: 2-byte entries, count 2^31, 4 bytes of entries.
        ("intset count", [&[11u8, 1, b'k', 12][..], &[2, 0, 0, 0, 0, 0, 0, 0x80, 1, 0, 2, 0]].concat()),
        // Ziplist: zlbytes says 1000, blob is 11 bytes.
        ("ziplist bytes", [&[10u8, 1, b'k', 11][..], &[0xe8, 3, 0, 0, 10, 0, 0, 0, 0, 0, 0xff]].concat()),
        // Listpack: total bytes says 7, one string entry claiming 60 bytes.
        ("listpack entry", [&[20u8, 1, b'k', 9][..], &[9, 0, 0, 0, 1, 0, 0xbc, b'a', 0xff]].concat()),
        // LZF: a back reference before the start of the output.
        ("lzf backref", [&[0u8, 1, b'k', 0xc3, 2, 10][..], &[0x20, 0x05]].concat()),
        // LZF: expands to fewer bytes than declared.
        ("lzf length", [&[0u8, 1, b'k', 0xc3, 3, 40][..], &[1, b'a', b'b']].concat()),
    ];
    for (what, body) in cases {
        let data = rdb_with(&body);
        let err = whole(&data).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{what}: {err:?}");
        assert!(err.to_string().contains("offset"), "{err}");
        check(what, &data, 0);
    }
}

// ---- Deterministic mutation fuzzing ----

const INTERESTING: [u8; 14] = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xc0, 0xc1, 0xc2, 0xc3, 0xf5, 0xfe, 0xff];

/// Applies one random mutation.
fn mutate(rng: &mut StdRng, data: &mut Vec<u8>, donors: &[Vec<u8>]) {
    if data.is_empty() {
        data.push(rng.random());
        return;
    }
    let pos = rng.random_range(0..data.len());
    match rng.random_range(0..9) {
        0 => data[pos] ^= 1 << rng.random_range(0..8),
        1 => data[pos] = INTERESTING[rng.random_range(0..INTERESTING.len())],
        2 => data[pos] = rng.random(),
        3 => {
            let n = rng.random_range(1..=8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(pos..pos, bytes);
        }
        4 => {
            let end = (pos + rng.random_range(1..=16)).min(data.len());
            data.drain(pos..end);
        }
        5 => {
            // Copy a range of the input over another place.
            let len = rng.random_range(1..=32).min(data.len() - pos);
            let chunk = data[pos..pos + len].to_vec();
            let to = rng.random_range(0..data.len());
            data.splice(to..(to + len).min(data.len()), chunk);
        }
        6 => data.truncate(pos),
        7 => {
            // A big length prefix.
            let big: &[u8] = match rng.random_range(0..3) {
                0 => &[0x80, 0xff, 0xff, 0xff, 0xff],
                1 => &[0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                _ => &[0x80, 0x00, 0x01, 0x00, 0x00],
            };
            let end = (pos + big.len()).min(data.len());
            data.splice(pos..end, big.iter().copied());
        }
        _ => {
            // Splice in a piece of another fixture.
            let donor = &donors[rng.random_range(0..donors.len())];
            let from = rng.random_range(0..donor.len());
            let len = rng.random_range(1..=64).min(donor.len() - from);
            let end = (pos + len).min(data.len());
            data.splice(pos..end, donor[from..from + len].iter().copied());
        }
    }
}

#[test]
fn mutation_loop_never_panics() {
    let corpus: Vec<Vec<u8>> = small_fixtures(2048).into_iter().map(|f| f.data).collect();
    assert!(corpus.len() > 50);
    let mut rng = StdRng::seed_from_u64(0x5eed_f00d);
    let mut outcomes = [0usize; 2];
    for i in 0..20_000u64 {
        let source = &corpus[rng.random_range(0..corpus.len())];
        let mut data = source.clone();
        for _ in 0..rng.random_range(1..=3) {
            mutate(&mut rng, &mut data, &corpus);
        }
        if rng.random_bool(0.5) {
            fix_crc(&mut data);
        }
        let r = check(&format!("mutation #{i}"), &data, i);
        outcomes[usize::from(r.result.is_ok())] += 1;
    }
    assert!(outcomes[0] > 5000 && outcomes[1] > 500, "{outcomes:?}");
}
