//! Probabilistic types: HyperLogLog and bloom filters. Their LogData carries no elements
//! (`11` for PFADD/PFMERGE, `9 createBloomChain`, `9 insert`), so nothing can be
//! replayed as PFADD/BF.ADD; what the records allow is below.
//!
//! HyperLogLog: Kvrocks keeps Redis' dense layout (`src/types/hyperloglog.cc` is Redis'
//! `hyperloglog.c`: same MurmurHash64A seed, 16384 six-bit registers packed LSB-first),
//! cut into 16 segments of 768 bytes (1024 registers). The segments laid end to end are
//! the register area of a Redis dense HLL string: `"HYLL"`, encoding 0 (dense), 3 unused
//! bytes, an 8-byte cached cardinality (marked stale: bit 7 of its last byte), then 12288
//! register bytes. The target's PFCOUNT computes from the same registers with the same
//! estimator, so it agrees with Kvrocks'.
//!
//! | records | commands |
//! |---|---|
//! | segment puts (PFADD, PFMERGE) | `BITFIELD key INCRBY u1 <last bit> 0` (makes a missing key a full-size zero string, changes nothing else), `SETRANGE key 0 <header>`, `SETRANGE key <16 + 768 i> <segment i>` |
//! | a copied HLL (RENAME, COPY) | `DEL key`, `SET key <header + registers>` |
//!
//! Bloom filters (module: RedisBloom): Kvrocks' filters are split-block bloom filters
//! hashed with XXH64 (`src/types/bloom_filter.cc`), a layout RedisBloom cannot load, and
//! the inserted items are not in the LogData. The chain's parameters are exact:
//!
//! | records | commands |
//! |---|---|
//! | metadata put under `9 createBloomChain`, or of a copied filter | `BF.RESERVE key <error rate> <capacity> [EXPANSION n \| NONSCALING]` (after `DEL key` for a copy) |
//! | metadata put under `9 insert` | nothing (item count) |
//! | filter bits (every sub-filter put) | reported as skipped: the items are lost |
//!
//! Not converted (reported): bloom filter bits; HLL segments of an unexpected size or
//! index (not written by Kvrocks 2.10).

use std::borrow::Cow;

use super::arg::{double, int, lit, raw};
use super::keys::KeyRecords;
use super::{del, Converted, Rebuilt};
use crate::log_data::RedisLog;
use crate::metadata::Extra;
use crate::subkey::{SubKey, SubValue};

/// Registers per Kvrocks segment, bytes per segment, segments.
const SEGMENT_BYTES: usize = 768;
const SEGMENTS: usize = 16;
/// Redis' dense HLL header: magic, encoding (dense), unused, cached cardinality (stale).
pub(super) const HLL_HEADER: [u8; 16] = *b"HYLL\0\0\0\0\0\0\0\0\0\0\0\x80";
/// Length of a Redis dense HLL string.
pub(super) const HLL_DENSE_LEN: usize = HLL_HEADER.len() + SEGMENT_BYTES * SEGMENTS;

/// Converts a hyperloglog key.
pub(super) fn hyperloglog<'a>(log: Option<&RedisLog<'a>>, k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    let mut segments = Vec::new();
    for s in &k.subs {
        match (s.sub, s.value) {
            (SubKey::HllSegment(index), Some(SubValue::Bytes(bytes))) => match place(*index, bytes) {
                Some(at) => segments.push((at, *bytes)),
                None => out.skip(s.offset, "hyperloglog segment of an unexpected size or index"),
            },
            (SubKey::HllSegment(_), _) => out.skip(s.offset, "hyperloglog segment delete"),
            _ => out.skip(s.offset, "subkey that does not match its key's type"),
        }
    }
    if k.is_copy(log) {
        del(k, out);
        let mut value = HLL_HEADER.to_vec();
        value.resize(HLL_DENSE_LEN, 0);
        for (at, bytes) in segments {
            if let Some(slot) = value.get_mut(at..at + bytes.len()) {
                slot.copy_from_slice(bytes);
            }
        }
        out.push(k.namespace, vec![lit("SET"), raw(k.key), Cow::Owned(value)]);
        return Rebuilt::Whole;
    }
    let last_bit = HLL_DENSE_LEN * 8 - 1;
    out.push(k.namespace, vec![lit("BITFIELD"), raw(k.key), lit("INCRBY"), lit("u1"), int(last_bit), lit("0")]);
    out.push(k.namespace, vec![lit("SETRANGE"), raw(k.key), lit("0"), Cow::Owned(HLL_HEADER.to_vec())]);
    for (at, bytes) in segments {
        out.push(k.namespace, vec![lit("SETRANGE"), raw(k.key), int(at), raw(bytes)]);
    }
    Rebuilt::Partial
}

/// Where segment `index` starts in the Redis string, if it is a Kvrocks 2.10 segment.
fn place(index: u32, bytes: &[u8]) -> Option<usize> {
    let index = usize::try_from(index).ok().filter(|i| *i < SEGMENTS)?;
    (bytes.len() == SEGMENT_BYTES).then_some(HLL_HEADER.len() + index * SEGMENT_BYTES)
}

/// Converts a bloom filter key.
pub(super) fn bloom<'a>(log: Option<&RedisLog<'a>>, k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    let copy = k.is_copy(log);
    let created = log.and_then(|l| l.arg(0)) == Some(&b"createBloomChain"[..]);
    if let (true, Some((offset, meta))) = (copy || created, k.meta) {
        if copy {
            del(k, out);
        }
        match meta.extra {
            Extra::Bloom(b) => {
                let mut args = vec![lit("BF.RESERVE"), raw(k.key), double(b.error_rate), int(b.base_capacity)];
                args.extend(match b.expansion {
                    0 => vec![lit("NONSCALING")],
                    n => vec![lit("EXPANSION"), int(n)],
                });
                out.push(k.namespace, args);
            }
            _ => out.skip(offset, "bloom metadata without its parameters"),
        }
    }
    for s in &k.subs {
        out.skip(s.offset, "bloom filter bits (split-block filter RedisBloom cannot load; items not in the LogData)");
    }
    if copy {
        Rebuilt::Whole
    } else {
        Rebuilt::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::{HLL_DENSE_LEN, HLL_HEADER};
    use crate::convert::tests::{commands, commands_with, meta, meta_key, strings, sub_key, Rep};
    use crate::convert::Options;
    use crate::key::encode_double;

    #[test]
    fn pfadd_writes_registers_into_a_full_size_dense_string() {
        let segment = vec![7u8; 768];
        let rep = Rep::default().log("11").put(0, &sub_key("h", b"2"), &segment).put(
            1,
            &meta_key("h"),
            &meta(11, 0, 0, b"\0"),
        );
        let got = commands(&rep);
        assert_eq!(got[0], ["BITFIELD", "h", "INCRBY", "u1", "98431", "0"]);
        assert_eq!(got[1][..3], ["SETRANGE", "h", "0"]);
        assert_eq!(got[2][..3], ["SETRANGE", "h", "1552"]);
        assert_eq!(got.len(), 3);
        assert_eq!(HLL_DENSE_LEN, 12304);
        assert_eq!(&HLL_HEADER[..4], b"HYLL");
    }

    #[test]
    fn a_copied_hll_is_set_whole() {
        let segment = vec![1u8; 768];
        let rep = Rep::default().log("11").put(1, &meta_key("h"), &meta(11, 0, 0, b"\0")).put(
            0,
            &sub_key("h", b"15"),
            &segment,
        );
        let bytes = rep.finish();
        let update = crate::Update::decode(&bytes, crate::KeyLayout::STANDALONE).unwrap();
        let out = crate::convert::convert(&update);
        assert_eq!(out.commands.len(), 2);
        let value = &out.commands[1].args[2];
        assert_eq!(value.len(), HLL_DENSE_LEN);
        assert_eq!(&value[..16], &HLL_HEADER);
        assert_eq!(value[HLL_DENSE_LEN - 1], 1);
        assert_eq!(value[16], 0);
    }

    #[test]
    fn bloom_keeps_its_parameters_and_reports_its_bits() {
        let mut extra = vec![0, 1, 0, 2, 0, 0, 0, 100];
        extra.extend_from_slice(&encode_double(0.01).to_be_bytes());
        extra.extend_from_slice(&128u32.to_be_bytes());
        let rep = Rep::default().log("9 createBloomChain").put(1, &meta_key("b"), &meta(9, 0, 0, &extra)).put(
            0,
            &sub_key("b", b"\0\0"),
            &[0; 128],
        );
        let (cmds, skipped) = commands_with(&rep, Options::default());
        assert_eq!(cmds, strings(&[&["BF.RESERVE", "b", "0.01", "100", "EXPANSION", "2"]]));
        assert_eq!(skipped.len(), 1);
    }
}
