//! LZF-compressed string values bigger than one piece are expanded as a stream: they come
//! out in pieces of `batch_bytes` exactly like plain strings, the same however the input
//! is split, while the caller keeps only about one piece of compressed input and the
//! parser only an 8 KiB window of history.
//!
//! - Several MiB of repetitive, literal-heavy and mixed data (compressed with the `lzf`
//!   crate), and hand-built streams whose back references reach exactly 8 KiB back
//!   across a piece boundary, decode to the same bytes and the same events fed whole, one
//!   byte at a time and in random chunks, under several configurations.
//! - A caller that supplies only what `NeedMore` asks for never holds more than about one
//!   piece of compressed input, far less than the compressed value.
//! - The raw verdict comes from the compressed length, so a big compressed value is
//!   never held for RESTORE, and a small one expanding to a few pieces still is.
//! - Corrupt streams (back reference before the start, declared length too long or too
//!   short, the block cut at every offset, the file cut at every offset, byte flips) give
//!   errors naming an offset, never panics, and the same outcome however split.
//! - The CRC still covers every byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replicant_rdb::{crc64, Error, Event, ParserConfig, Value};
use support::writer::RdbWriter;
use support::{acceptable_error, drive, random_chunks};

/// Consumed input is released in steps of this much (`RELEASE_STEP` in the parser).
const RELEASE_STEP: usize = 64 << 10;

// ---------------------------------------------------------------------------------------
// Building inputs.

/// An LZF stream built instruction by instruction, with the bytes it expands to.
#[derive(Default)]
struct Lzf {
    packed: Vec<u8>,
    plain: Vec<u8>,
}

impl Lzf {
    /// Literal runs of at most 32 bytes.
    fn lit(&mut self, bytes: &[u8]) -> &mut Self {
        for run in bytes.chunks(32) {
            self.packed.push((run.len() - 1) as u8);
            self.packed.extend_from_slice(run);
            self.plain.extend_from_slice(run);
        }
        self
    }

    /// Bytes of compressed data as they are, expanding to nothing the builder knows.
    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.packed.extend_from_slice(bytes);
        self
    }

    /// One back reference: `len` (3..=264) bytes from `back` (1..=8192) bytes back.
    fn back(&mut self, back: usize, len: usize) -> &mut Self {
        assert!((3..=264).contains(&len) && (1..=8192).contains(&back));
        let (l, off) = (len - 2, back - 1);
        if l < 7 {
            self.packed.push(((l << 5) | (off >> 8)) as u8);
        } else {
            self.packed.push(((7 << 5) | (off >> 8)) as u8);
            self.packed.push((l - 7) as u8);
        }
        self.packed.push(off as u8);
        for _ in 0..len {
            let b = self.plain[self.plain.len() - back];
            self.plain.push(b);
        }
        self
    }
}

fn random_bytes(rng: &mut StdRng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.random()).collect()
}

/// Repetitive text: compresses to a few percent.
fn repetitive(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 32);
    let mut i = 0u32;
    while v.len() < n {
        v.extend_from_slice(format!("value-{}-", i % 37).as_bytes());
        i += 1;
    }
    v.truncate(n);
    v
}

/// Random runs with repeats of earlier runs now and then (`repeats` of the time), some
/// far, some near.
fn mixed(rng: &mut StdRng, n: usize, repeats: f64) -> Vec<u8> {
    let mut v: Vec<u8> = Vec::with_capacity(n + 600);
    while v.len() < n {
        let len = rng.random_range(1..600);
        if v.len() > 10_000 && rng.random_bool(repeats) {
            let back = rng.random_range(len.max(1)..10_000);
            let from = v.len() - back;
            for k in 0..len {
                v.push(v[from + k]);
            }
        } else {
            v.extend(random_bytes(rng, len));
        }
    }
    v.truncate(n);
    v
}

/// Back references at the full 8 KiB distance across `count` piece boundaries (multiples
/// of `piece`, at least 600 bytes apart, after 9000 bytes of literals): references of
/// several lengths that straddle a boundary, start on it, or end on it, with literals,
/// long references and overlapping short ones in between.
fn boundary_stream(rng: &mut StdRng, piece: usize, count: usize) -> Lzf {
    let mut z = Lzf::default();
    z.lit(&random_bytes(rng, 9000));
    let step = piece * 600usize.div_ceil(piece);
    let first = piece * 9600usize.div_ceil(piece);
    for p in 0..count {
        let boundary = first + p * step;
        let len = [3usize, 8, 9, 100, 264][p % 5];
        let start = match p % 3 {
            0 => boundary - len / 2,
            1 => boundary,
            _ => boundary - len,
        };
        while z.plain.len() + 32 < start {
            let room = start - z.plain.len() - 1;
            if room > 300 && rng.random_bool(0.3) {
                z.back(rng.random_range(1..=8192), 264);
            } else if rng.random_bool(0.2) {
                z.back(1 + rng.random_range(0..3), 3 + rng.random_range(0..20));
            } else {
                let n = room.min(rng.random_range(1..=200));
                z.lit(&random_bytes(rng, n));
            }
        }
        let gap = start - z.plain.len();
        z.lit(&random_bytes(rng, gap));
        z.back(8192, len);
    }
    z.lit(b"tail");
    z
}

/// An RDB (version 11) of string keys: `(key, encoded value)` after `SELECTDB 0`.
fn rdb(keys: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = RdbWriter::new(11);
    w.select_db(0);
    for (key, value) in keys {
        w.key(0, key.as_bytes()).raw(value);
    }
    w.finish()
}

/// An LZF string value (`0xC3`, lengths, block) with the lengths as declared.
fn lzf_value(packed: &[u8], clen: u64, ulen: u64) -> Vec<u8> {
    let mut v = RdbWriter::fragment();
    v.byte(0xc3).len(clen).len(ulen).raw(packed);
    v.into_bytes()
}

/// A value compressed by the `lzf` crate (which, like Redis, gives up on data that does
/// not compress).
fn compressed(plain: &[u8]) -> Vec<u8> {
    let packed = lzf::compress(plain).unwrap();
    lzf_value(&packed, packed.len() as u64, plain.len() as u64)
}

/// A value stored as literal runs only, as liblzf writes data it cannot compress.
fn literals_only(plain: &[u8]) -> Vec<u8> {
    let mut z = Lzf::default();
    z.lit(plain);
    lzf_value(&z.packed, z.packed.len() as u64, plain.len() as u64)
}

fn plain_value(plain: &[u8]) -> Vec<u8> {
    let mut v = RdbWriter::fragment();
    v.string(plain);
    v.into_bytes()
}

// ---------------------------------------------------------------------------------------
// Running the parser.

/// What a run produced: events in a compact form (a string piece as its length and a
/// hash), each key's string value reassembled, and the outcome.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    events: Vec<String>,
    strings: Vec<(Vec<u8>, Vec<u8>)>,
    result: Result<u64, Error>,
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

fn outcome(data: &[u8], cfg: ParserConfig, next_chunk: impl FnMut() -> usize) -> Outcome {
    let mut events = Vec::new();
    let mut strings: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let result = drive(data, cfg, next_chunk, |event| match event {
        Event::Value(Value::String(s)) => {
            events.push(format!("String({}, {:016x})", s.len(), fnv(s)));
            strings.last_mut().expect("a piece outside a key").1.extend_from_slice(s);
        }
        Event::Key(k) => {
            strings.push((k.key.to_vec(), k.value.map(<[u8]>::to_vec).unwrap_or_default()));
            events.push(format!("{event:?}"));
        }
        other => events.push(format!("{other:?}")),
    });
    Outcome { events, strings, result }
}

/// The run fed whole, which every other split must match.
fn whole(data: &[u8], cfg: &ParserConfig) -> Outcome {
    outcome(data, cfg.clone(), || usize::MAX)
}

/// Checks that the run is the same fed a byte at a time (when `bytewise`) and in random
/// chunks of several sizes; returns the whole run.
fn same_however_split(label: &str, data: &[u8], cfg: &ParserConfig, bytewise: bool) -> Outcome {
    let reference = whole(data, cfg);
    if bytewise {
        assert_eq!(reference, outcome(data, cfg.clone(), || 1), "{label}: one byte at a time");
    }
    for (seed, max) in [(1, 7), (2, 100), (3, 5000), (4, 200_000)] {
        let split = outcome(data, cfg.clone(), random_chunks(seed, max));
        assert_eq!(reference, split, "{label}: seed {seed}, chunks 1..={max}");
    }
    reference
}

/// The largest the caller's buffer gets when it adds only what `NeedMore` asks for.
fn max_buffer(data: &[u8], cfg: ParserConfig) -> usize {
    let stats = support::minimal(data, cfg).unwrap();
    stats.max_buffer.max(stats.max_needed)
}

fn configs() -> Vec<(&'static str, ParserConfig)> {
    vec![
        ("default", ParserConfig::default()),
        ("64 KiB pieces", ParserConfig::default().batch_bytes(64 << 10).raw_value_max(16 << 10)),
        ("4 KiB pieces, no raw", ParserConfig::default().batch_bytes(4 << 10).raw_value_max(0)),
        ("1000-byte pieces, raw 200 KiB", ParserConfig::default().batch_bytes(1000).raw_value_max(200 << 10)),
        ("inline strings", ParserConfig::default().inline_strings(true).batch_bytes(256 << 10)),
        ("small max_buffered", ParserConfig::default().batch_bytes(16 << 10).max_buffered(64 << 10)),
    ]
}

// ---------------------------------------------------------------------------------------
// Tests.

/// Several MiB of each kind of data, compressed, decode to the same bytes as the same
/// values stored plainly, in pieces of `batch_bytes`, the same however split.
#[test]
fn big_compressed_strings_decode_the_same_however_split() {
    let mut rng = StdRng::seed_from_u64(11);
    let rep = repetitive(3 << 20);
    let lit = mixed(&mut rng, (2 << 20) + 12_345, 0.1);
    let random = random_bytes(&mut rng, (1 << 20) + 99);
    let mix = mixed(&mut rng, (2 << 20) + 777, 0.5);
    let boundary = boundary_stream(&mut rng, 64 << 10, 20);
    let boundary_value = lzf_value(&boundary.packed, boundary.packed.len() as u64, boundary.plain.len() as u64);
    let small = b"small value, small value, small value".to_vec();
    let keys = [
        ("repetitive", compressed(&rep)),
        ("literal-heavy", compressed(&lit)),
        ("random", literals_only(&random)),
        ("mixed", compressed(&mix)),
        ("boundary", boundary_value.clone()),
        ("small", compressed(&small)),
    ];
    let data = rdb(&keys);
    let plain = rdb(&[
        ("repetitive", plain_value(&rep)),
        ("literal-heavy", plain_value(&lit)),
        ("random", plain_value(&random)),
        ("mixed", plain_value(&mix)),
        ("boundary", plain_value(&boundary.plain)),
        ("small", plain_value(&small)),
    ]);
    assert!(keys[0].1.len() < rep.len() / 4, "the repetitive data compresses");
    assert!(keys[1].1.len() > lit.len() * 8 / 10, "the literal-heavy data hardly compresses");

    for (label, cfg) in configs() {
        let out = same_however_split(label, &data, &cfg, false);
        assert!(matches!(out.result, Ok(n) if n == data.len() as u64), "{label}: {:?}", out.result);
        assert!(out.events.last().unwrap().starts_with("End(Verified("), "{label}: {:?}", out.events.last());
        let values: Vec<&[u8]> = out.strings.iter().map(|(_, v)| v.as_slice()).collect();
        assert_eq!(values, [&rep[..], &lit, &random, &mix, &boundary.plain, &small], "{label}");

        // The pieces are those of the same values stored plainly: batch_bytes each.
        let plain_out = whole(&plain, &cfg);
        let pieces =
            |o: &Outcome| -> Vec<String> { o.events.iter().filter(|e| e.starts_with("String(")).cloned().collect() };
        assert_eq!(pieces(&out), pieces(&plain_out), "{label}: pieces as for plain strings");
    }

    // One byte at a time, under a configuration where every boundary case is crossed.
    let cfg = ParserConfig::default().batch_bytes(64 << 10).raw_value_max(16 << 10);
    let keys = [("boundary", boundary_value), ("mixed", compressed(&mix[..600_000]))];
    let data = rdb(&keys);
    same_however_split("boundary, bytewise", &data, &cfg, true);
}

/// Back references at exactly 8 KiB reach into the previous piece whatever the piece
/// size, including pieces smaller than the window and than one instruction's output.
#[test]
fn back_references_at_the_window_edge_cross_piece_boundaries() {
    let mut rng = StdRng::seed_from_u64(12);
    for piece in [100usize, 264, 4096, 8191, 8192, 8193, 20_000] {
        let z = boundary_stream(&mut rng, piece, 12);
        let data = rdb(&[("k", lzf_value(&z.packed, z.packed.len() as u64, z.plain.len() as u64))]);
        for raw in [0, 1 << 10] {
            let cfg = ParserConfig::default().batch_bytes(piece).raw_value_max(raw);
            let label = format!("piece {piece}, raw {raw}");
            let out = same_however_split(&label, &data, &cfg, piece == 8192);
            assert!(out.result.is_ok(), "{label}: {:?}", out.result);
            assert_eq!(out.strings[0].1, z.plain, "{label}");
            let n = out.events.iter().filter(|e| e.starts_with("String(")).count();
            assert_eq!(n, z.plain.len().div_ceil(piece), "{label}");
        }
    }
}

/// The caller keeps about one piece of compressed input, never the compressed value.
#[test]
fn the_caller_keeps_about_one_piece_of_input() {
    let mut rng = StdRng::seed_from_u64(13);
    let rep = repetitive(6 << 20);
    let lit = random_bytes(&mut rng, 3 << 20);
    let mix = mixed(&mut rng, 3 << 20, 0.5);
    let data = rdb(&[("repetitive", compressed(&rep)), ("literal", literals_only(&lit)), ("mixed", compressed(&mix))]);
    for cfg in [
        ParserConfig::default(),
        ParserConfig::default().batch_bytes(64 << 10).raw_value_max(16 << 10),
        ParserConfig::default().batch_bytes(4 << 10).raw_value_max(0),
        ParserConfig::default().batch_bytes(1 << 10).raw_value_max(200 << 10),
    ] {
        // A piece of incompressible data takes 33/32 of its size in LZF literals.
        let bound = (cfg.batch_bytes * 33 / 32 + 64).max(cfg.raw_value_max) + RELEASE_STEP + 1024;
        let kept = max_buffer(&data, cfg.clone());
        assert!(kept <= bound, "{cfg:?}: the caller kept {kept} bytes (bound {bound})");
        assert!(kept < 2 << 20, "{cfg:?}: kept {kept}, the compressed values are 3 MiB and more");
    }
}

/// A compressed string is raw (for RESTORE) only when its compressed form is within
/// `raw_value_max` and its pieces fit what the parser holds for a raw value; the verdict
/// is the same however the input is split.
#[test]
fn raw_verdict_for_streamed_strings() {
    let rep = repetitive(100_000);
    let zeros = vec![0u8; 4 << 20];
    let data = rdb(&[("rep", compressed(&rep)), ("zeros", compressed(&zeros))]);
    let cfg = ParserConfig::default().batch_bytes(4096).raw_value_max(64 << 10);
    let out = same_however_split("raw", &data, &cfg, false);
    let keys: Vec<&String> = out.events.iter().filter(|e| e.starts_with("Key(")).collect();
    // 100 kB of text is a few kB compressed and 25 pieces: raw, and exactly its bytes.
    let rep_value = compressed(&rep);
    assert!(rep_value.len() < 64 << 10);
    assert!(keys[0].contains(&format!("value: {rep_value:?}")), "{}", &keys[0][..200]);
    // 4 MiB of zeros is 32 kB compressed, within raw_value_max, but too much to hold
    // expanded: not raw.
    assert!(compressed(&zeros).len() < 64 << 10);
    assert!(keys[1].contains("raw: None"), "{}", &keys[1][..200]);
    assert_eq!(out.strings[1].1, zeros);
    // Bigger than raw_value_max compressed: never raw, and the input is not held for it.
    let cfg = ParserConfig::default().batch_bytes(4096).raw_value_max(1024);
    let out = same_however_split("raw 1 KiB", &data, &cfg, false);
    assert!(out.events.iter().filter(|e| e.starts_with("Key(")).all(|k| k.contains("raw: None")));
    assert!(max_buffer(&data, cfg) < RELEASE_STEP + (16 << 10));
}

/// Checks that `data` fails with a corruption error that names an offset, the same way
/// however split, and returns it.
fn corrupt(label: &str, data: &[u8], cfg: &ParserConfig) -> Error {
    let out = same_however_split(label, data, cfg, data.len() < 50_000);
    match out.result {
        Err(e @ Error::Corrupt { .. }) => {
            assert!(acceptable_error(&e), "{label}: {e}");
            e
        }
        other => panic!("{label}: expected a corruption error, got {other:?}"),
    }
}

#[test]
fn corrupt_streams_are_errors_with_offsets() {
    let mut rng = StdRng::seed_from_u64(14);
    let cfg = ParserConfig::default().batch_bytes(1000).raw_value_max(0);
    let text = repetitive(20_000);
    let packed = lzf::compress(&text).unwrap();
    let key = |value: Vec<u8>| rdb(&[("before", plain_value(b"x")), ("k", value), ("after", plain_value(b"y"))]);

    // A back reference before the start of the output, early in the first piece.
    let mut z = Lzf::default();
    // 10 bytes from 51 back (length code 7 + 1, offset 50) after 50 bytes of output.
    z.lit(&random_bytes(&mut rng, 50)).raw(&[0xe0, 1, 50]);
    z.lit(&random_bytes(&mut rng, 2000));
    let e = corrupt("back reference", &key(lzf_value(&z.packed, z.packed.len() as u64, 2060)), &cfg);
    assert!(e.to_string().contains("back reference"), "{e}");
    // It names the offset of the instruction at fault: after two literal runs (50 bytes
    // and their two control bytes), past the value's `0xC3` and two 2-byte lengths, past
    // the key "k" (type, length, name) that follows the first key.
    let value_at = rdb(&[("before", plain_value(b"x"))]).len() - 9 + 3;
    let at = value_at + 5 + 52;
    assert!(e.to_string().starts_with(&format!("corrupt RDB at offset {at}:")), "{e}");

    // Declared longer than the data expands to.
    let e = corrupt("declared too long", &key(lzf_value(&packed, packed.len() as u64, 20_001)), &cfg);
    assert!(e.to_string().contains("ends after 20000 of the declared 20001 bytes"), "{e}");
    // Declared shorter: every length short of the end, at and off piece boundaries.
    for ulen in [19_999, 19_000, 10_500, 1001] {
        let e = corrupt("declared too short", &key(lzf_value(&packed, packed.len() as u64, ulen)), &cfg);
        let text = e.to_string();
        assert!(text.contains("more than the declared") || text.contains("remain after the declared"), "{e}");
    }
    // The compressed length cut at every offset: the block then ends early or mid-instruction.
    for clen in 1..packed.len() as u64 {
        let data = key(lzf_value(&packed[..clen as usize], clen, text.len() as u64));
        let out = whole(&data, &cfg);
        assert!(matches!(out.result, Err(Error::Corrupt { .. })), "clen {clen}: {:?}", out.result);
        if clen % 97 == 0 || clen + 3 > packed.len() as u64 {
            assert_eq!(out, outcome(&data, cfg.clone(), || 1), "clen {clen}: bytewise");
        }
    }
    // A big declared length with no data to match.
    let data = key(lzf_value(&packed, packed.len() as u64, 1 << 40));
    corrupt("declared 1 TiB", &data, &cfg);
    // An empty string that claims compressed bytes.
    let data = key(lzf_value(&packed, packed.len() as u64, 0));
    corrupt("declared empty", &data, &cfg);
}

/// The file cut at every offset of a small streamed value is truncated there, never a
/// panic; bytes flipped inside the block (with the CRC fixed) are corrupt or decode,
/// the same however split.
#[test]
fn cut_and_flipped_streams_never_panic() {
    let mut rng = StdRng::seed_from_u64(15);
    let cfg = ParserConfig::default().batch_bytes(256).raw_value_max(0);
    let mut z = Lzf::default();
    z.lit(&random_bytes(&mut rng, 300)).back(300, 264).back(1, 100).lit(b"abc").back(8, 30);
    z.lit(&random_bytes(&mut rng, 40)).back(600, 264);
    let value = lzf_value(&z.packed, z.packed.len() as u64, z.plain.len() as u64);
    let data = rdb(&[("k", value)]);
    let full = whole(&data, &cfg);
    assert!(full.result.is_ok(), "{:?}", full.result);
    assert_eq!(full.strings[0].1, z.plain);
    for cut in 0..data.len() {
        let part = &data[..cut];
        let out = whole(part, &cfg);
        match &out.result {
            Err(Error::Truncated { offset, .. }) => assert_eq!(*offset, cut as u64, "cut at {cut}"),
            other => panic!("cut at {cut}: {other:?}"),
        }
        assert_eq!(out, outcome(part, cfg.clone(), || 1), "cut at {cut}: bytewise");
        assert!(full.events.starts_with(&out.events), "cut at {cut}: not a prefix of the full run");
    }
    let start = data.len() - 9 - z.packed.len();
    for at in start..data.len() - 9 {
        for flip in [0x01u8, 0x20, 0x80, 0xff] {
            let mut bad = data.clone();
            bad[at] ^= flip;
            let body = bad.len() - 8;
            let crc = crc64(&bad[..body]);
            bad[body..].copy_from_slice(&crc.to_le_bytes());
            let out = whole(&bad, &cfg);
            if let Err(e) = &out.result {
                assert!(acceptable_error(e), "flip {flip:#x} at {at}: {e}");
            }
            assert_eq!(out, outcome(&bad, cfg.clone(), random_chunks(at as u64, 9)), "flip {flip:#x} at {at}");
        }
    }
}

/// The CRC covers every byte of a streamed value: a changed literal byte that still
/// decodes is a checksum mismatch, whole or split.
#[test]
fn the_checksum_covers_streamed_values() {
    let text = repetitive(3 << 20);
    let value = compressed(&text);
    let data = rdb(&[("k", value.clone())]);
    let cfg = ParserConfig::default().batch_bytes(64 << 10);
    let out = same_however_split("crc", &data, &cfg, false);
    assert!(matches!(out.events.last().map(String::as_str), Some(e) if e.starts_with("End(Verified(")));
    // The value is `0xC3`, two 5-byte lengths and the block, which starts with a literal
    // run: change its first literal byte.
    let block = data.len() - 9 - (value.len() - 11);
    assert!(data[block] < 32, "a literal run");
    let at = block + 1;
    let mut bad = data.clone();
    bad[at] ^= 0x01;
    for out in [whole(&bad, &cfg), outcome(&bad, cfg.clone(), random_chunks(3, 70_000))] {
        assert!(matches!(out.result, Err(Error::ChecksumMismatch { .. })), "{:?}", out.result);
        assert_ne!(out.strings[0].1, text);
    }
}
