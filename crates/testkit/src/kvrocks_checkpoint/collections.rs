//! The removing and updating commands of hashes, sets, sortedints and zsets
//! (`src/types/redis_hash.cc`, `redis_set.cc`, `redis_sortedint.cc`, `redis_zset.cc`): the
//! subkey puts and deletes, then the metadata with its new size. Kvrocks' choices are kept:
//! a key emptied by `HDEL`, `SPOP`, `ZREM`, `ZPOPMIN`... keeps a metadata record of size 0
//! (a dead key) where `SREM` deletes it; `SREM`/`ZREM`/`ZINCRBY` on a live key write their
//! batch even when nothing changed (LogData only); `ZREMRANGEBYRANK` writes no LogData.

use std::collections::HashSet;

use super::encode::{decode_double, encode_double, Encoding, KvType, Metadata};
use super::strings::std_to_string;
use super::{Cf, KvrocksCheckpoint, Write};

impl KvrocksCheckpoint {
    /// `HDEL k f...` (`Hash::Delete`): nothing when no field exists.
    pub fn hdel<F: AsRef<[u8]>>(&mut self, ns: &str, key: impl AsRef<[u8]>, fields: &[F]) -> u64 {
        let key = key.as_ref();
        let Some((mut meta, _)) = self.existing(ns, key, KvType::Hash) else { return 0 };
        let mut w = self.write(Some(KvType::Hash.id().to_string()));
        let deleted = self.delete_subkeys(&mut w, ns, key, meta.version, fields);
        if deleted > 0 {
            meta.size -= deleted;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
            w.commit();
        }
        deleted
    }

    /// `HINCRBY k f n` (`Hash::IncrBy`): the field as `std::to_string`, and the metadata
    /// when the field is new. Returns the new value.
    pub fn hincrby(&mut self, ns: &str, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, by: i64) -> i64 {
        let (key, field) = (key.as_ref(), field.as_ref());
        let old = self.hash_field(ns, key, field);
        let new = old.as_deref().map_or(Ok(0), str::parse::<i64>).expect("HINCRBY: not an integer") + by;
        self.put_hash_field(ns, key, field, &new.to_string());
        new
    }

    /// `HINCRBYFLOAT k f x` (`Hash::IncrByFloat`): the field as `std::to_string(double)`
    /// (six decimals). Returns it.
    pub fn hincrbyfloat(&mut self, ns: &str, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, by: f64) -> String {
        let (key, field) = (key.as_ref(), field.as_ref());
        let old = self.hash_field(ns, key, field);
        let new = old.as_deref().map_or(Ok(0.0), str::parse::<f64>).expect("HINCRBYFLOAT: not a number") + by;
        let text = std_to_string(new);
        self.put_hash_field(ns, key, field, &text);
        text
    }

    /// The text of a field of a live hash.
    fn hash_field(&self, ns: &str, key: &[u8], field: &[u8]) -> Option<String> {
        let (meta, _) = self.existing(ns, key, KvType::Hash)?;
        let value = self.get(Cf::Default, &self.internal_key(ns, key, meta.version, field))?;
        Some(String::from_utf8_lossy(&value).into_owned())
    }

    /// The write of `HINCRBY`: the field, then the metadata when the field is new.
    fn put_hash_field(&mut self, ns: &str, key: &[u8], field: &[u8], value: &str) {
        let (mut meta, _) = self.open_key(ns, key, KvType::Hash, Encoding::New);
        let sub_key = self.internal_key(ns, key, meta.version, field);
        let mut w = self.write(Some(KvType::Hash.id().to_string()));
        let exists = w.get(Cf::Default, &sub_key).is_some();
        w.put(Cf::Default, &sub_key, value.as_bytes());
        if !exists {
            meta.size += 1;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
    }

    /// `SREM k m...` (`Set::Remove`): the metadata deleted when the set is emptied.
    pub fn srem<M: AsRef<[u8]>>(&mut self, ns: &str, key: impl AsRef<[u8]>, members: &[M]) -> u64 {
        let key = key.as_ref();
        let Some((mut meta, _)) = self.existing(ns, key, KvType::Set) else { return 0 };
        let mut w = self.write(Some(KvType::Set.id().to_string()));
        let removed = self.delete_subkeys(&mut w, ns, key, meta.version, members);
        if removed > 0 && removed == meta.size {
            w.delete(Cf::Metadata, &self.ns_key(ns, key));
        } else if removed > 0 {
            meta.size -= removed;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
        removed
    }

    /// `SMOVE src dst m` (`Set::Move`): an `SREM` from `src`, then, when it removed the
    /// member, an `SADD` to `dst`: two batches. Returns whether it moved.
    pub fn smove(&mut self, ns: &str, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> bool {
        if let Some((meta, _)) = self.live(ns, dst.as_ref()) {
            assert_eq!(meta.kind, KvType::Set, "SMOVE: WRONGTYPE destination");
        }
        if self.srem(ns, src, &[member.as_ref()]) == 0 {
            return false;
        }
        self.set(ns, dst, &[member], super::Expiry::None, Encoding::New);
        true
    }

    /// `SPOP k n` (`Set::Take`): `members` are those Kvrocks' random draw took (they must be
    /// members); their deletes, and the metadata with its size (0 when emptied: a dead key).
    pub fn spop<M: AsRef<[u8]>>(&mut self, ns: &str, key: impl AsRef<[u8]>, members: &[M]) {
        let key = key.as_ref();
        let Some((mut meta, _)) = self.existing(ns, key, KvType::Set) else { return };
        if members.is_empty() {
            return;
        }
        let mut w = self.write(Some(KvType::Set.id().to_string()));
        for member in members {
            let sub_key = self.internal_key(ns, key, meta.version, member.as_ref());
            assert!(w.get(Cf::Default, &sub_key).is_some(), "SPOP: not a member");
            w.delete(Cf::Default, &sub_key);
        }
        meta.size -= members.len() as u64;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        w.commit();
    }

    /// `SIREM k id...` (`Sortedint::Remove`): nothing when no id exists.
    pub fn sirem(&mut self, ns: &str, key: impl AsRef<[u8]>, ids: &[u64]) -> u64 {
        let key = key.as_ref();
        let Some((mut meta, _)) = self.existing(ns, key, KvType::Sortedint) else { return 0 };
        let mut w = self.write(Some(KvType::Sortedint.id().to_string()));
        let mut removed = 0;
        for id in ids {
            let sub_key = self.internal_key(ns, key, meta.version, &id.to_be_bytes());
            if w.get(Cf::Default, &sub_key).is_some() {
                w.delete(Cf::Default, &sub_key);
                removed += 1;
            }
        }
        if removed > 0 {
            meta.size -= removed;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
            w.commit();
        }
        removed
    }

    /// `ZREM k m...` (`ZSet::Remove`): per existing member its delete and its score index
    /// delete, then the metadata.
    pub fn zrem<M: AsRef<[u8]>>(&mut self, ns: &str, key: impl AsRef<[u8]>, members: &[M]) -> u64 {
        let key = key.as_ref();
        let Some((mut meta, _)) = self.existing(ns, key, KvType::ZSet) else { return 0 };
        let mut w = self.write(Some(KvType::ZSet.id().to_string()));
        let mut seen = HashSet::new();
        let mut removed = 0;
        for member in members.iter().map(AsRef::as_ref).filter(|m| seen.insert(m.to_vec())) {
            let member_key = self.internal_key(ns, key, meta.version, member);
            if let Some(score) = w.get(Cf::Default, &member_key) {
                w.delete(Cf::Default, &member_key);
                w.delete(Cf::ZSetScore, &self.internal_key(ns, key, meta.version, &[&score[..], member].concat()));
                removed += 1;
            }
        }
        if removed > 0 {
            meta.size -= removed;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        }
        w.commit();
        removed
    }

    /// `ZINCRBY k x m` (`ZSet::Add` with `INCR`): a changed score moves its index entry (old
    /// index delete, member put, new index put); a new member is added. Returns the score.
    pub fn zincrby(&mut self, ns: &str, key: impl AsRef<[u8]>, by: f64, member: impl AsRef<[u8]>) -> f64 {
        let (key, member) = (key.as_ref(), member.as_ref());
        let (mut meta, _) = self.open_key(ns, key, KvType::ZSet, Encoding::New);
        let mut w = self.write(Some(KvType::ZSet.id().to_string()));
        let member_key = self.internal_key(ns, key, meta.version, member);
        let score_key = |score: &[u8]| self.internal_key(ns, key, meta.version, &[score, member].concat());
        let old = if meta.size > 0 { w.get(Cf::Default, &member_key) } else { None };
        let score = match old {
            Some(old) => {
                let score = decode_double(&old) + by;
                assert!(!score.is_nan(), "ZINCRBY: resulting score is not a number");
                if score != decode_double(&old) {
                    w.delete(Cf::ZSetScore, &score_key(&old));
                    w.put(Cf::Default, &member_key, &encode_double(score));
                    w.put(Cf::ZSetScore, &score_key(&encode_double(score)), b"");
                }
                score
            }
            None => {
                w.put(Cf::Default, &member_key, &encode_double(by));
                w.put(Cf::ZSetScore, &score_key(&encode_double(by)), b"");
                meta.size += 1;
                w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
                by
            }
        };
        w.commit();
        score
    }

    /// `ZREMRANGEBYSCORE k min max`, both bounds included (`ZSet::RangeByScore` deleting):
    /// the members in score order, each its delete then its index delete; nothing when none
    /// is in range. Returns how many went.
    pub fn zremrangebyscore(&mut self, ns: &str, key: impl AsRef<[u8]>, min: f64, max: f64) -> u64 {
        let key = key.as_ref();
        let Some((meta, _)) = self.existing(ns, key, KvType::ZSet) else { return 0 };
        let by_score = self.score_index(ns, key, &meta);
        let gone: Vec<_> = by_score.into_iter().filter(|(score, _)| *score >= min && *score <= max).collect();
        self.zdelete(ns, key, meta, &gone, Some(KvType::ZSet.id().to_string()));
        gone.len() as u64
    }

    /// `ZREMRANGEBYRANK k start stop` (`ZSet::RangeByRank` deleting): as
    /// [`zremrangebyscore`](Self::zremrangebyscore) by rank, and without LogData.
    pub fn zremrangebyrank(&mut self, ns: &str, key: impl AsRef<[u8]>, start: i64, stop: i64) -> u64 {
        let key = key.as_ref();
        let Some((meta, _)) = self.existing(ns, key, KvType::ZSet) else { return 0 };
        let size = meta.size as i64;
        let start = if start < 0 { start + size } else { start }.max(0);
        let stop = if stop < 0 { stop + size } else { stop };
        if stop < 0 || start > stop {
            return 0;
        }
        let by_score = self.score_index(ns, key, &meta);
        let gone: Vec<_> = by_score.into_iter().skip(start as usize).take((stop - start + 1) as usize).collect();
        self.zdelete(ns, key, meta, &gone, None);
        gone.len() as u64
    }

    /// `ZPOPMIN k n` (`ZPOPMAX` with `min` false; `ZSet::Pop`): the lowest (highest) members,
    /// each its delete then its index delete, then the metadata. Returns them.
    pub fn zpop(&mut self, ns: &str, key: impl AsRef<[u8]>, count: usize, min: bool) -> Vec<(Vec<u8>, f64)> {
        let key = key.as_ref();
        let Some((meta, _)) = self.existing(ns, key, KvType::ZSet) else { return Vec::new() };
        if count == 0 {
            return Vec::new();
        }
        let mut by_score = self.score_index(ns, key, &meta);
        if !min {
            by_score.reverse();
        }
        by_score.truncate(count);
        self.zdelete(ns, key, meta, &by_score, Some(KvType::ZSet.id().to_string()));
        by_score.into_iter().map(|(score, member)| (member, score)).collect()
    }

    /// The zset's score index, in order: (score, member).
    fn score_index(&self, ns: &str, key: &[u8], meta: &Metadata) -> Vec<(f64, Vec<u8>)> {
        let rows = self.subkeys(Cf::ZSetScore, ns, key, meta.version).into_iter();
        rows.filter_map(|(sub, _)| Some((decode_double(sub.get(..8)?), sub.get(8..)?.to_vec()))).collect()
    }

    /// Deletes `members` (score, member) of a zset, each member then its index entry, and
    /// puts the metadata; nothing when there are none.
    fn zdelete(&mut self, ns: &str, key: &[u8], mut meta: Metadata, members: &[(f64, Vec<u8>)], log: Option<String>) {
        if members.is_empty() {
            return;
        }
        let mut w = self.write(log);
        for (score, member) in members {
            w.delete(Cf::Default, &self.internal_key(ns, key, meta.version, member));
            let index = [&encode_double(*score)[..], member].concat();
            w.delete(Cf::ZSetScore, &self.internal_key(ns, key, meta.version, &index));
        }
        meta.size -= members.len() as u64;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &meta.encode());
        w.commit();
    }

    /// Deletes the existing subkeys among `subs` (each once); returns how many.
    fn delete_subkeys<S: AsRef<[u8]>>(&self, w: &mut Write<'_>, ns: &str, key: &[u8], version: u64, subs: &[S]) -> u64 {
        let mut seen = HashSet::new();
        let mut deleted = 0;
        for sub in subs.iter().map(AsRef::as_ref).filter(|s| seen.insert(s.to_vec())) {
            let sub_key = self.internal_key(ns, key, version, sub);
            if w.get(Cf::Default, &sub_key).is_some() {
                w.delete(Cf::Default, &sub_key);
                deleted += 1;
            }
        }
        deleted
    }
}
