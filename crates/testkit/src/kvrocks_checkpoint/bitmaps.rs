//! Bitmaps (`src/types/redis_bitmap.cc`, `redis_bitmap_string.cc`): segments of up to 1 KiB,
//! subkey the segment's byte offset in decimal, bits LSB-first, grown as
//! `ExpandBitmapSegment` grows them (so a segment may be longer than the bitmap); the
//! metadata's size is the bitmap's length in bytes. `SETBIT` on a string key edits the
//! string (MSB-first, LogData `1`), as Kvrocks does.

use super::encode::{Encoding, Expiry, KvType, Metadata};
use super::strings::header_len;
use super::{Cf, KvrocksCheckpoint};

/// Bits and bytes of a bitmap segment (`kBitmapSegmentBits`, `kBitmapSegmentBytes`).
const SEGMENT_BITS: u64 = 8 * 1024;
const SEGMENT_BYTES: u64 = 1024;

/// A `BITOP` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `XOR`.
    Xor,
    /// `NOT` (one source).
    Not,
}

impl BitOp {
    /// The operation's name, upper case (Kvrocks' LogData keeps it as the client sent it).
    fn name(self) -> &'static str {
        match self {
            BitOp::And => "AND",
            BitOp::Or => "OR",
            BitOp::Xor => "XOR",
            BitOp::Not => "NOT",
        }
    }

    fn apply(self, a: u8, b: u8) -> u8 {
        match self {
            BitOp::And => a & b,
            BitOp::Or => a | b,
            BitOp::Xor => a ^ b,
            BitOp::Not => a,
        }
    }
}

impl KvrocksCheckpoint {
    /// A bitmap with `bits` set, one `SETBIT k bit 1` each, in this order.
    pub fn bitmap(&mut self, ns: &str, key: impl AsRef<[u8]>, bits: &[u64], expiry: Expiry, enc: Encoding) {
        for bit in bits {
            self.set_bit(ns, key.as_ref(), *bit, true, enc);
        }
        self.expire_at(ns, key.as_ref(), expiry);
    }

    /// `SETBIT k bit 1` (`Bitmap::SetBit`): LogData `6 9 <bit>`, the bit's segment (subkey:
    /// its byte offset in decimal) grown as `ExpandBitmapSegment` grows it, bits LSB-first;
    /// the metadata's size (bytes) when the bitmap grew.
    pub fn setbit(&mut self, ns: &str, key: impl AsRef<[u8]>, bit: u64, enc: Encoding) {
        self.set_bit(ns, key.as_ref(), bit, true, enc);
    }

    /// `SETBIT k bit 0|1` on a new (64-bit) or existing bitmap, or on a string.
    pub fn setbit_to(&mut self, ns: &str, key: impl AsRef<[u8]>, bit: u64, on: bool) {
        self.set_bit(ns, key.as_ref(), bit, on, Encoding::New);
    }

    fn set_bit(&mut self, ns: &str, key: &[u8], bit: u64, on: bool, enc: Encoding) {
        if self.live(ns, key).is_some_and(|(m, _)| m.kind == KvType::String) {
            return self.set_string_bit(ns, key, bit, on);
        }
        let (mut meta, _) = self.open_key(ns, key, KvType::Bitmap, enc);
        let segment_offset = bit / SEGMENT_BITS * SEGMENT_BYTES;
        let sub_key = self.internal_key(ns, key, meta.version, segment_offset.to_string().as_bytes());
        let mut w = self.write(Some(format!("6 9 {bit}")));
        let mut segment = w.get(Cf::Default, &sub_key).unwrap_or_default();
        let byte = ((bit / 8) % SEGMENT_BYTES) as usize;
        expand_segment(&mut segment, byte + 1);
        if on {
            segment[byte] |= 1 << (bit % 8);
        } else {
            segment[byte] &= !(1 << (bit % 8));
        }
        w.put(Cf::Default, &sub_key, &segment);
        let size = meta.size.max(segment_offset + byte as u64 + 1);
        if size != meta.size {
            meta.size = size;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
    }

    /// `BitmapString::SetBit`: the string grown with zero bytes, the bit set MSB-first,
    /// LogData `1`, the metadata record rewritten with its header kept.
    fn set_string_bit(&mut self, ns: &str, key: &[u8], bit: u64, on: bool) {
        let raw = self.raw_metadata(ns, key).unwrap_or_default();
        let (header, value) = raw.split_at(header_len(&raw).min(raw.len()));
        let mut value = value.to_vec();
        let byte = (bit / 8) as usize;
        if byte >= value.len() {
            value.resize(byte + 1, 0);
        }
        let mask = 0x80 >> (bit % 8);
        value[byte] = if on { value[byte] | mask } else { value[byte] & !mask };
        self.update_string(ns, key, header.to_vec(), &value);
    }

    /// `BITOP op dst src...` (`Bitmap::BitOp`): LogData `6 10 <OP> <src>...`; per segment
    /// index up to the longest source, the result segment (as long as the longest source
    /// segment, a `NOT` one padded with 0xff and cut at the length) under a new version;
    /// the metadata (64-bit, size the longest source). All sources missing: only the
    /// destination's metadata delete, without LogData. Returns the length.
    pub fn bitop<K: AsRef<[u8]>>(&mut self, ns: &str, op: BitOp, dst: impl AsRef<[u8]>, srcs: &[K]) -> u64 {
        let dst = dst.as_ref();
        let mut sources = Vec::new();
        for src in srcs {
            if let Some((meta, _)) = self.live(ns, src.as_ref()) {
                assert_eq!(meta.kind, KvType::Bitmap, "BITOP: WRONGTYPE source");
                sources.push((src.as_ref().to_vec(), meta));
            }
        }
        let max_size = sources.iter().map(|(_, m)| m.size).max().unwrap_or(0);
        if max_size == 0 {
            let mut w = self.write(None);
            w.delete(Cf::Metadata, &self.ns_key(ns, dst));
            w.commit();
            return 0;
        }
        let names: Vec<String> = srcs.iter().map(|s| String::from_utf8_lossy(s.as_ref()).into_owned()).collect();
        let mut w = self.write(Some(format!("6 10 {} {}", op.name(), names.join(" "))));
        let result = Metadata { size: max_size, ..Metadata::new(KvType::Bitmap, Encoding::New, self.next_version()) };
        let skip = op == BitOp::And && sources.len() != srcs.len();
        let stop = (max_size - 1) / SEGMENT_BYTES;
        for index in (0..=stop).filter(|_| !skip) {
            let sub = (index * SEGMENT_BYTES).to_string();
            let mut fragments = Vec::new();
            let mut missing = false;
            for (src, meta) in &sources {
                match self.get(Cf::Default, &self.internal_key(ns, src, meta.version, sub.as_bytes())) {
                    Some(fragment) => fragments.push(fragment),
                    None => missing = true,
                }
            }
            let mut len =
                if op == BitOp::And && missing { 0 } else { fragments.iter().map(Vec::len).max().unwrap_or(0) };
            if len == 0 && op != BitOp::Not {
                continue;
            }
            let mut out = vec![if op == BitOp::Not { 0xff } else { 0 }; SEGMENT_BYTES as usize];
            for (j, byte) in out.iter_mut().enumerate().take(len) {
                let at = |f: &Vec<u8>| f.get(j).copied().unwrap_or(0);
                let first = fragments.first().map_or(0, at);
                *byte = fragments
                    .iter()
                    .skip(1)
                    .fold(if op == BitOp::Not { !first } else { first }, |acc, f| op.apply(acc, at(f)));
            }
            if op == BitOp::Not {
                len = if index < stop || max_size == (index + 1) * SEGMENT_BYTES {
                    SEGMENT_BYTES as usize
                } else {
                    (max_size % SEGMENT_BYTES) as usize
                };
            }
            out.truncate(len);
            w.put(Cf::Default, &self.internal_key(ns, dst, result.version, sub.as_bytes()), &out);
        }
        w.put(Cf::Metadata, &self.ns_key(ns, dst), &result.encode());
        w.commit();
        max_size
    }
}

/// `ExpandBitmapSegment`: at least `min_bytes`, doubling while that is enough, capped at 1 KiB.
pub(super) fn expand_segment(segment: &mut Vec<u8>, min_bytes: usize) {
    let old = segment.len();
    if min_bytes > old {
        let new = if min_bytes > old * 2 {
            min_bytes
        } else if old * 2 > SEGMENT_BYTES as usize {
            SEGMENT_BYTES as usize
        } else {
            old * 2
        };
        segment.resize(new, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_segments_grow_as_kvrocks_grows_them() {
        let mut segment = Vec::new();
        let sizes: Vec<usize> = [1, 2, 3, 5, 1024]
            .iter()
            .map(|min| {
                expand_segment(&mut segment, *min);
                segment.len()
            })
            .collect();
        assert_eq!(sizes, [1, 2, 4, 8, 1024]);
    }
}
