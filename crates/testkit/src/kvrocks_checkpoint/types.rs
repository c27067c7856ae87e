//! The adding commands of strings, hashes, sets, zsets, sortedints, lists, JSON and bloom
//! filters, each as the Kvrocks command writes its key (`src/types/redis_*.cc`). A
//! collection written with an expiry gets it from a separate `EXPIRE` write, as a client
//! would have to; a key that already exists (alive) keeps its version and encoding.
//! `HSET` and `ZADD` walk their arguments backwards (the last of a repeated field wins),
//! `SADD` forwards; all three write their batch even when nothing changed (LogData only).

use std::collections::HashSet;

use super::encode::{
    decode_double, encode_double, put_metadata_extras, Encoding, Expiry, KvType, Metadata, LIST_INITIAL_INDEX,
};
use super::{Cf, KvrocksCheckpoint};

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

    /// Subkeys of a hash (`Hash::MSet`: backwards, a field holding the same value left
    /// alone), set (`Set::Add`) or sortedint (`Sortedint::Add`: no dedup, nothing written
    /// when nothing is added); the size counts new ones.
    fn members(&mut self, ns: &str, key: &[u8], kind: KvType, enc: Encoding, mut items: Vec<(Vec<u8>, Vec<u8>)>) {
        let (mut meta, _) = self.open_key(ns, key, kind, enc);
        let mut w = self.write(Some(kind.id().to_string()));
        if kind == KvType::Hash {
            items.reverse();
        }
        let mut seen = HashSet::new();
        let mut added = 0;
        for (sub, value) in &items {
            if kind != KvType::Sortedint && !seen.insert(sub.clone()) {
                continue;
            }
            let sub_key = self.internal_key(ns, key, meta.version, sub);
            match w.get(Cf::Default, &sub_key) {
                Some(old) if kind != KvType::Hash || old == *value => continue,
                Some(_) => {}
                None => added += 1,
            }
            w.put(Cf::Default, &sub_key, value);
        }
        if added > 0 {
            meta.size += added;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        if added > 0 || kind != KvType::Sortedint {
            w.commit();
        }
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
        let mut seen = HashSet::new();
        for (member, score) in members.iter().rev().filter(|(m, _)| seen.insert(m.as_ref().to_vec())) {
            let (member, value, score) = (member.as_ref(), *score, encode_double(*score));
            let member_key = self.internal_key(ns, key, meta.version, member);
            match w.get(Cf::Default, &member_key) {
                Some(old) if decode_double(&old) == value => continue,
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
    fn bloom_filters_are_sized_as_kvrocks_sizes_them() {
        // The capture's `BF.ADD b x`: capacity 100, error rate 0.01 → 128 bytes.
        assert_eq!(bloom_bytes(100, 0.01), 128);
        assert_eq!(bloom_bytes(1, 0.5), 32);
    }
}
