//! The write methods of strings, hashes, sets, zsets, sortedints, lists, bitmaps, JSON and
//! bloom filters, each as the Kvrocks command writes its key (`src/types/redis_*.cc`).
//! A collection written with an expiry gets it from a separate `EXPIRE` write, as a
//! client would have to; a key that already exists (alive) keeps its version and encoding.

use super::encode::{encode_double, put_metadata_extras, Encoding, Expiry, KvType, Metadata, LIST_INITIAL_INDEX};
use super::{Cf, KvrocksCheckpoint};

/// Bits and bytes of a bitmap segment (`kBitmapSegmentBits`, `kBitmapSegmentBytes`).
const SEGMENT_BITS: u64 = 8 * 1024;
const SEGMENT_BYTES: u64 = 1024;
/// Bloom filter size bounds (`kMinimumBloomFilterBytes`, `kMaximumBloomFilterBytes`).
const BLOOM_MIN_BYTES: u64 = 32;
const BLOOM_MAX_BYTES: u64 = 128 * 1024 * 1024;

impl KvrocksCheckpoint {
    /// `SET k v [PXAT ms]` (`String::Set`): one metadata put, `flags | expire | value`.
    pub fn string(&mut self, ns: &str, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, expiry: Expiry, enc: Encoding) {
        let key = key.as_ref();
        let mut meta = Metadata::new(KvType::String, enc, 0);
        if let Expiry::At(ms) = expiry {
            meta.expire_ms = ms;
        }
        let mut bytes = meta.encode();
        bytes.extend_from_slice(value.as_ref());
        let mut w = self.write(Some("1".into()));
        w.put(Cf::Metadata, &self.ns_key(ns, key), &bytes);
        w.commit();
    }

    /// `HSET k f v ...` (`Hash::MSet`): field subkeys, and the metadata when fields were added.
    pub fn hash<F, V>(&mut self, ns: &str, key: impl AsRef<[u8]>, fields: &[(F, V)], expiry: Expiry, enc: Encoding)
    where
        F: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let items = fields.iter().map(|(f, v)| (f.as_ref().to_vec(), v.as_ref().to_vec()));
        self.members(ns, key.as_ref(), KvType::Hash, enc, items.collect());
        self.expire_at(ns, key.as_ref(), expiry);
    }

    /// `SADD k m ...` (`Set::Add`): member subkeys with empty values.
    pub fn set<M: AsRef<[u8]>>(
        &mut self,
        ns: &str,
        key: impl AsRef<[u8]>,
        members: &[M],
        expiry: Expiry,
        enc: Encoding,
    ) {
        let items = members.iter().map(|m| (m.as_ref().to_vec(), Vec::new()));
        self.members(ns, key.as_ref(), KvType::Set, enc, items.collect());
        self.expire_at(ns, key.as_ref(), expiry);
    }

    /// `SIADD k id ...` (`Sortedint::Add`): id subkeys (u64 BE) with empty values.
    pub fn sortedint(&mut self, ns: &str, key: impl AsRef<[u8]>, ids: &[u64], expiry: Expiry, enc: Encoding) {
        let items = ids.iter().map(|id| (id.to_be_bytes().to_vec(), Vec::new()));
        self.members(ns, key.as_ref(), KvType::Sortedint, enc, items.collect());
        self.expire_at(ns, key.as_ref(), expiry);
    }

    /// Subkeys of a hash, set or sortedint, added or overwritten; the size counts new ones.
    fn members(&mut self, ns: &str, key: &[u8], kind: KvType, enc: Encoding, items: Vec<(Vec<u8>, Vec<u8>)>) {
        let (mut meta, _) = self.open_key(ns, key, kind, enc);
        let mut w = self.write(Some(kind.id().to_string()));
        let mut added = 0;
        for (sub, value) in &items {
            let sub_key = self.internal_key(ns, key, meta.version, sub);
            if w.is_new(Cf::Default, &sub_key) {
                added += 1;
            } else if kind != KvType::Hash {
                continue;
            }
            w.put(Cf::Default, &sub_key, value);
        }
        if added > 0 {
            meta.size += added;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
    }

    /// `ZADD k score member ...` (`ZSet::Add`): member → score in `default`, score + member
    /// in `zset_score`; a changed score moves its index entry.
    pub fn zset<M: AsRef<[u8]>>(
        &mut self,
        ns: &str,
        key: impl AsRef<[u8]>,
        members: &[(M, f64)],
        expiry: Expiry,
        enc: Encoding,
    ) {
        let key = key.as_ref();
        let (mut meta, _) = self.open_key(ns, key, KvType::ZSet, enc);
        let mut w = self.write(Some("5".into()));
        let score_key =
            |score: &[u8], member: &[u8]| self.internal_key(ns, key, meta.version, &[score, member].concat());
        let mut added = 0;
        for (member, score) in members {
            let (member, score) = (member.as_ref(), encode_double(*score));
            let member_key = self.internal_key(ns, key, meta.version, member);
            match w.get(Cf::Default, &member_key) {
                Some(old) if old == score => continue,
                Some(old) => w.delete(Cf::ZSetScore, &score_key(&old, member)),
                None => added += 1,
            }
            w.put(Cf::Default, &member_key, &score);
            w.put(Cf::ZSetScore, &score_key(&score, member), b"");
        }
        if added > 0 {
            meta.size += added;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
        self.expire_at(ns, key, expiry);
    }

    /// A list holding `elements` in this order, written as Kvrocks' `LPUSH` of the first
    /// half (reversed) and `RPUSH` of the rest: its indexes straddle the initial
    /// `u64::MAX / 2`, as those of a list pushed at both ends.
    pub fn list<E: AsRef<[u8]>>(
        &mut self,
        ns: &str,
        key: impl AsRef<[u8]>,
        elements: &[E],
        expiry: Expiry,
        enc: Encoding,
    ) {
        let key = key.as_ref();
        let (left, right) = elements.split_at(elements.len() / 2);
        let left: Vec<&[u8]> = left.iter().rev().map(AsRef::as_ref).collect();
        if !left.is_empty() {
            self.push(ns, key, &left, true, enc);
        }
        let right: Vec<&[u8]> = right.iter().map(AsRef::as_ref).collect();
        self.push(ns, key, &right, false, enc);
        self.expire_at(ns, key, expiry);
    }

    /// `LPUSH k e ...` on a new key (64-bit encoding) or an existing one.
    pub fn lpush<E: AsRef<[u8]>>(&mut self, ns: &str, key: impl AsRef<[u8]>, elements: &[E]) {
        let elements: Vec<&[u8]> = elements.iter().map(AsRef::as_ref).collect();
        self.push(ns, key.as_ref(), &elements, true, Encoding::New);
    }

    /// `RPUSH k e ...` on a new key (64-bit encoding) or an existing one.
    pub fn rpush<E: AsRef<[u8]>>(&mut self, ns: &str, key: impl AsRef<[u8]>, elements: &[E]) {
        let elements: Vec<&[u8]> = elements.iter().map(AsRef::as_ref).collect();
        self.push(ns, key.as_ref(), &elements, false, Encoding::New);
    }

    /// `List::push`: elements at `head - 1` downwards or `tail` upwards (index u64 BE), and
    /// the metadata with `head | tail` after the common part.
    fn push(&mut self, ns: &str, key: &[u8], elements: &[&[u8]], left: bool, enc: Encoding) {
        let (mut meta, extras) = self.open_key(ns, key, KvType::List, enc);
        let bound = |i: usize| {
            extras.get(i * 8..i * 8 + 8).map_or(LIST_INITIAL_INDEX, |b| u64::from_be_bytes(b.try_into().unwrap()))
        };
        let (mut head, mut tail) = (bound(0), bound(1));
        let mut w = self.write(Some(if left { "3 6" } else { "3 7" }.into()));
        for element in elements {
            let index = if left { head - 1 } else { tail };
            w.put(Cf::Default, &self.internal_key(ns, key, meta.version, &index.to_be_bytes()), element);
            (head, tail) = if left { (head - 1, tail) } else { (head, tail + 1) };
        }
        meta.size += elements.len() as u64;
        let mut bytes = meta.encode();
        put_metadata_extras(&mut bytes, &[head, tail]);
        w.put(Cf::Metadata, &self.ns_key(ns, key), &bytes);
        w.commit();
    }

    /// A bitmap with `bits` set, one `SETBIT k bit 1` each, in this order.
    pub fn bitmap(&mut self, ns: &str, key: impl AsRef<[u8]>, bits: &[u64], expiry: Expiry, enc: Encoding) {
        for bit in bits {
            self.setbit(ns, key.as_ref(), *bit, enc);
        }
        self.expire_at(ns, key.as_ref(), expiry);
    }

    /// `SETBIT k bit 1` (`Bitmap::SetBit`): the bit's segment (subkey: its byte offset in
    /// decimal) grown as `ExpandBitmapSegment` grows it, bits LSB-first; the metadata's size
    /// (bytes) when the bitmap grew.
    pub fn setbit(&mut self, ns: &str, key: impl AsRef<[u8]>, bit: u64, enc: Encoding) {
        let key = key.as_ref();
        let (mut meta, _) = self.open_key(ns, key, KvType::Bitmap, enc);
        let segment_offset = bit / SEGMENT_BITS * SEGMENT_BYTES;
        let sub_key = self.internal_key(ns, key, meta.version, segment_offset.to_string().as_bytes());
        let mut w = self.write(Some(format!("6 9 {bit}")));
        let mut segment = w.get(Cf::Default, &sub_key).unwrap_or_default();
        let byte = ((bit / 8) % SEGMENT_BYTES) as usize;
        expand_segment(&mut segment, byte + 1);
        segment[byte] |= 1 << (bit % 8);
        w.put(Cf::Default, &sub_key, &segment);
        let size = meta.size.max(segment_offset + byte as u64 + 1);
        if size != meta.size {
            meta.size = size;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
    }

    /// `JSON.SET k $ <text>` (`Json::write`, storage format JSON): `flags | expire | 0 | text`.
    pub fn json(&mut self, ns: &str, key: impl AsRef<[u8]>, text: &str, expiry: Expiry, enc: Encoding) {
        let key = key.as_ref();
        let mut bytes = Metadata::new(KvType::Json, enc, 0).encode();
        bytes.push(0);
        bytes.extend_from_slice(text.as_bytes());
        let mut w = self.write(Some(KvType::Json.id().to_string()));
        w.put(Cf::Metadata, &self.ns_key(ns, key), &bytes);
        w.commit();
        self.expire_at(ns, key, expiry);
    }

    /// `BF.RESERVE k error_rate capacity [EXPANSION n | NONSCALING (0)]`
    /// (`BloomChain::createBloomChain`): one empty sub-filter of `OptimalNumOfBytes` bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn bloom_reserve(
        &mut self,
        ns: &str,
        key: impl AsRef<[u8]>,
        error_rate: f64,
        capacity: u32,
        expansion: u16,
        expiry: Expiry,
        enc: Encoding,
    ) {
        let key = key.as_ref();
        let meta = Metadata::new(KvType::BloomFilter, enc, self.next_version());
        let bloom_bytes = bloom_bytes(capacity, error_rate);
        let mut bytes = meta.encode();
        bytes.extend_from_slice(&1u16.to_be_bytes());
        bytes.extend_from_slice(&expansion.to_be_bytes());
        bytes.extend_from_slice(&capacity.to_be_bytes());
        bytes.extend_from_slice(&encode_double(error_rate));
        bytes.extend_from_slice(&bloom_bytes.to_be_bytes());
        let mut w = self.write(Some("9 createBloomChain".into()));
        w.put(Cf::Metadata, &self.ns_key(ns, key), &bytes);
        let filter = self.internal_key(ns, key, meta.version, &0u16.to_be_bytes());
        w.put(Cf::Default, &filter, &vec![0; bloom_bytes as usize]);
        w.commit();
        self.expire_at(ns, key, expiry);
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

/// `BlockSplitBloomFilter::OptimalNumOfBytes`.
fn bloom_bytes(capacity: u32, error_rate: f64) -> u32 {
    let m = -8.0 * f64::from(capacity) / (1.0 - error_rate.powf(1.0 / 8.0)).ln();
    let bits = if m < 0.0 || m > (BLOOM_MAX_BYTES * 8) as f64 { BLOOM_MAX_BYTES * 8 } else { m as u64 };
    let bits = bits.max(BLOOM_MIN_BYTES * 8).next_power_of_two().min(BLOOM_MAX_BYTES * 8);
    (bits / 8) as u32
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
        // The capture's `BF.ADD b x`: capacity 100, error rate 0.01 → 128 bytes.
        assert_eq!(bloom_bytes(100, 0.01), 128);
        assert_eq!(bloom_bytes(1, 0.5), 32);
    }
}
