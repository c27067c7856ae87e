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
    for s in &k.subs {
        match (s.sub, s.value) {
            (SubKey::BitmapSegment(offset), Some(SubValue::Bytes(bytes))) => {
                out.push(k.namespace, vec![lit("SETRANGE"), raw(k.key), int(offset), Cow::Owned(msb_first(bytes))]);
            }
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

/// A Kvrocks segment (LSB-first bits) as Redis string bytes (MSB-first bits).
pub(crate) fn msb_first(segment: &[u8]) -> Vec<u8> {
    segment.iter().map(|b| b.reverse_bits()).collect()
}

#[cfg(test)]
mod tests {
    use crate::convert::tests::{commands, meta, meta_key, strings, sub_key, Rep};

    #[test]
    fn segments_are_written_msb_first() {
        // SETBIT bm 42 1 on a bitmap holding bits 0 and 7: byte 0 = 0x81, byte 5 = 0x04.
        let rep = Rep::default().log("6 9 42").put(0, &sub_key("bm", b"0"), b"\x81\0\0\0\0\x04");
        assert_eq!(commands(&rep), strings(&[&["SETRANGE", "bm", "0", "\u{FFFD}\0\0\0\0 "]]));
        assert_eq!(super::msb_first(b"\x81\x00\x04\x01"), b"\x81\x00\x20\x80");
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
