//! Bitmaps. Kvrocks keeps a bitmap in segments of up to 1 KiB, keyed by their byte
//! offset, with bits LSB-first in each byte (`util::lsb`); Redis numbers bits MSB-first.
//! Each segment put becomes `SETRANGE key <offset> <segment with every byte's bits
//! reversed>`, so Redis bit `8 * byte + i` is Kvrocks bit `8 * byte + i` and `GETBIT` and
//! `BITCOUNT` agree (and `GET` too: a segment is as long as the bitmap needs).
//!
//! Why not `SETBIT` per changed bit (kvrocks2redis' way): only SETBIT's LogData names the
//! bit, while BITFIELD, BITOP and RENAME/COPY write segments too; the segment put holds
//! the segment's exact state after any of them, so replaying it is exact for all, at the
//! cost of sending up to 1 KiB per SETBIT.
//!
//! | LogData | commands |
//! |---|---|
//! | `6 9 <offset>` (SETBIT), `6 11 ...` (BITFIELD) | `SETRANGE` of each written segment |
//! | `6 10 <op> <dest> <src>...` (BITOP), or `6` alone before a copied value (RENAME, COPY) | `DEL key`, `SETRANGE key <size-1> "\0"` (the bitmap's length), then the segments |
//!
//! Kvrocks grows a segment by doubling it, so a segment may be longer than the bitmap
//! (`SETBIT k 16 1` leaves 4 bytes for a 3-byte bitmap): a segment is cut at the bitmap's
//! length, from the metadata the same batch puts when the length changed. A batch without
//! it did not change the length (the target's string already has it): a `SETBIT` then
//! becomes `SETBIT key <bit> <its value in the segment>`, and another write (`BITFIELD`) a
//! script that writes the segment only up to the string's length on the target.
//!
//! Not converted (reported): segment deletes (Kvrocks 2.10 writes none; a whole-bitmap
//! delete is a metadata delete).

use std::borrow::Cow;

use super::arg::{int, lit, raw};
use super::keys::KeyRecords;
use super::{del, Converted, Rebuilt};
use crate::log_data::{RedisCommand, RedisLog};
use crate::metadata::RedisType;
use crate::subkey::{SubKey, SubValue};

/// Converts a bitmap key.
pub(super) fn convert<'a>(log: Option<&RedisLog<'a>>, k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    let command = log.filter(|l| l.redis_type() == Some(RedisType::Bitmap)).and_then(RedisLog::command);
    let whole = command == Some(RedisCommand::BitOp) || k.is_copy(log);
    if whole {
        del(k, out);
        if let Some(last) = k.metadata().and_then(|m| m.size.checked_sub(1)) {
            out.push(k.namespace, vec![lit("SETRANGE"), raw(k.key), int(last), lit("\0")]);
        }
    }
    let size = k.metadata().map(|m| m.size);
    for s in &k.subs {
        match (s.sub, s.value) {
            (SubKey::BitmapSegment(offset), Some(SubValue::Bytes(bytes))) => match size {
                Some(size) => {
                    let bytes = within_size(bytes, *offset, size);
                    if !bytes.is_empty() {
                        out.push(
                            k.namespace,
                            vec![lit("SETRANGE"), raw(k.key), int(offset), Cow::Owned(msb_first(bytes))],
                        );
                    }
                }
                None => out.push(k.namespace, same_length(log, k.key, *offset, bytes)),
            },
            (SubKey::BitmapSegment(_), _) => out.skip(s.offset, "bitmap segment delete"),
            _ => out.skip(s.offset, "subkey that does not match its key's type"),
        }
    }
    if whole {
        Rebuilt::Whole
    } else {
        Rebuilt::Partial
    }
}

/// Writes a segment into a bitmap whose length did not change: the one bit a `SETBIT`
/// names, or else the segment up to the target string's length (a script: the length is
/// not in the batch).
fn same_length<'a>(log: Option<&RedisLog<'a>>, key: &'a [u8], offset: u64, segment: &[u8]) -> Vec<Cow<'a, [u8]>> {
    let setbit = log.filter(|l| l.command() == Some(RedisCommand::SetBit));
    let bit = setbit.and_then(|l| l.arg(1)).and_then(crate::log_data::parse_decimal);
    if let Some(bit) = bit {
        let byte = (bit / 8).checked_sub(offset).and_then(|i| segment.get(usize::try_from(i).ok()?));
        let value = byte.map_or(0, |b| (b >> (bit % 8)) & 1);
        return vec![lit("SETBIT"), raw(key), int(bit), int(u64::from(value))];
    }
    vec![lit("EVAL"), lit(WITHIN_LENGTH_SCRIPT), lit("1"), raw(key), int(offset), Cow::Owned(msb_first(segment))]
}

/// `SETRANGE KEYS[1] ARGV[1] ARGV[2]`, the value cut at the string's current length.
const WITHIN_LENGTH_SCRIPT: &str = "local n = redis.call('STRLEN', KEYS[1]) - tonumber(ARGV[1]) \
    if n > 0 then redis.call('SETRANGE', KEYS[1], ARGV[1], string.sub(ARGV[2], 1, n)) end return 0";

/// The part of a segment at byte `offset` that lies within a bitmap of `size` bytes.
pub(crate) fn within_size(segment: &[u8], offset: u64, size: u64) -> &[u8] {
    let keep = usize::try_from(size.saturating_sub(offset)).unwrap_or(usize::MAX);
    segment.get(..keep).unwrap_or(segment)
}

/// A Kvrocks segment (LSB-first bits) as Redis string bytes (MSB-first bits).
pub(crate) fn msb_first(segment: &[u8]) -> Vec<u8> {
    segment.iter().map(|b| b.reverse_bits()).collect()
}

#[cfg(test)]
mod tests {
    use crate::convert::tests::{commands, meta, meta_key, strings, sub_key, Rep};

    #[test]
    fn segments_are_written_msb_first_up_to_the_bitmaps_length() {
        // SETBIT bm 42 1 on a bitmap holding bits 0 and 7 grows it to 6 bytes: byte 0 = 0x81,
        // byte 5 = 0x04, in a segment Kvrocks doubled to 8 bytes.
        let rep = Rep::default().log("6 9 42").put(0, &sub_key("bm", b"0"), b"\x81\0\0\0\0\x04\0\0").put(
            1,
            &meta_key("bm"),
            &meta(6, 0, 6, b""),
        );
        assert_eq!(commands(&rep)[0], strings(&[&["SETRANGE", "bm", "0", "\u{FFFD}\0\0\0\0 "]])[0]);
        assert_eq!(super::msb_first(b"\x81\x00\x04\x01"), b"\x81\x00\x20\x80");
    }

    #[test]
    fn a_write_that_keeps_the_length_sets_only_what_it_changed() {
        // SETBIT bm 42 0 inside the bitmap: no metadata in the batch.
        let rep = Rep::default().log("6 9 42").put(0, &sub_key("bm", b"0"), b"\x81\0\0\0\0\0\0\0");
        assert_eq!(commands(&rep), strings(&[&["SETBIT", "bm", "42", "0"]]));
        let rep = Rep::default().log("6 11").put(0, &sub_key("bm", b"1024"), b"\x01\0");
        let cmds = commands(&rep);
        assert_eq!((cmds[0][0].as_str(), cmds[0][3].as_str(), cmds[0][4].as_str()), ("EVAL", "bm", "1024"));
        assert!(cmds[0][1].contains("STRLEN"), "{cmds:?}");
    }

    #[test]
    fn bitop_replaces_the_destination() {
        let rep = Rep::default().log("6 10 OR d a b").put(0, &sub_key("d", b"1024"), b"\x01").put(
            1,
            &meta_key("d"),
            &meta(6, 0, 2000, b""),
        );
        let want: &[&[&str]] =
            &[&["DEL", "d"], &["SETRANGE", "d", "1999", "\0"], &["SETRANGE", "d", "1024", "\u{FFFD}"]];
        assert_eq!(commands(&rep), strings(want));
    }
}
