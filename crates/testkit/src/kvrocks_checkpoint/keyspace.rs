//! Commands on whole keys, as `src/storage/redis_db.cc` writes them: `DEL` (`Database::MDel`),
//! the `EXPIRE` family and `PERSIST` (`Database::Expire`), `RENAME`/`RENAMENX`/`COPY`
//! (`Database::Copy`), `FLUSHDB`/`FLUSHALL` (a `DeleteRange` over the metadata CF).
//!
//! `Database::Copy` writes LogData `<type>` (no command), the source's metadata delete first
//! for a rename, the destination's metadata (the source's bytes: same version, same expiry)
//! and then every subkey of the source's version under the destination's name, in key order,
//! a zset's score index entry after each member. The destination's old subkeys are not
//! deleted: its new metadata carries the source's version, so they are stale.

use super::encode::Metadata;
use super::{now_ms, Cf, Expiry, KvType, KvrocksCheckpoint};

impl KvrocksCheckpoint {
    /// `DEL k...` (`Database::MDel`): LogData `0`, then a metadata delete per live key. The
    /// subkeys stay behind (stale), as in Kvrocks. Nothing is written when no key is live.
    pub fn del<K: AsRef<[u8]>>(&mut self, ns: &str, keys: &[K]) -> u64 {
        let mut w = self.write(Some("0".into()));
        let mut deleted = 0;
        for key in keys {
            if self.live(ns, key.as_ref()).is_some() {
                w.delete(Cf::Metadata, &self.ns_key(ns, key.as_ref()));
                deleted += 1;
            }
        }
        if deleted > 0 {
            w.commit();
        }
        deleted
    }

    /// `PEXPIREAT k at_ms` (`Database::Expire`): LogData `0 8`, and the metadata with its
    /// expiry rewritten in place (in seconds for a legacy key); nothing when the expiry is
    /// already that one. Panics if `key` is missing. Unlike Kvrocks it also takes a time in
    /// the past and a dead key (an expired, uncompacted key). `EXPIRE`, `PEXPIRE`,
    /// `EXPIREAT`, `SET ... EX` on a collection: the same write at the absolute time.
    pub fn expire(&mut self, ns: &str, key: impl AsRef<[u8]>, at_ms: u64) {
        let ns_key = self.ns_key(ns, key.as_ref());
        let mut value = self.get(Cf::Metadata, &ns_key).expect("expire: the key has no metadata");
        let (meta, _) = Metadata::decode(&value).expect("expire: undecodable metadata");
        if meta.expire_ms == at_ms {
            return;
        }
        let expire = Metadata { expire_ms: at_ms, ..meta }.encode();
        let width = if meta.encoding == super::Encoding::New { 8 } else { 4 };
        value[1..1 + width].copy_from_slice(&expire[1..1 + width]);
        let mut w = self.write(Some("0 8".into()));
        w.put(Cf::Metadata, &ns_key, &value);
        w.commit();
    }

    /// Applies `expiry` with [`expire`](Self::expire) (nothing for [`Expiry::None`]).
    pub(super) fn expire_at(&mut self, ns: &str, key: &[u8], expiry: Expiry) {
        if let Expiry::At(ms) = expiry {
            self.expire(ns, key, ms);
        }
    }

    /// `PERSIST k` (`CommandPersist`: `Database::Expire(k, 0)` when the key has an expiry):
    /// LogData `0 8`, the metadata with expiry 0. Returns whether it had one.
    pub fn persist(&mut self, ns: &str, key: impl AsRef<[u8]>) -> bool {
        let key = key.as_ref();
        match self.live(ns, key) {
            Some((meta, _)) if meta.expire_ms != 0 => {
                self.expire(ns, key, 0);
                true
            }
            _ => false,
        }
    }

    /// `RENAME src dst`: `Database::Copy` deleting the source. Panics if `src` is missing.
    pub fn rename(&mut self, ns: &str, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) {
        assert!(self.copy_key(ns, src.as_ref(), dst.as_ref(), false, true), "RENAME: no such key");
    }

    /// `RENAMENX src dst`: nothing when `dst` is live. Returns whether it renamed.
    pub fn renamenx(&mut self, ns: &str, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> bool {
        self.copy_key(ns, src.as_ref(), dst.as_ref(), true, true)
    }

    /// `COPY src dst [REPLACE]`: without `replace`, nothing when `dst` is live. Returns
    /// whether it copied.
    pub fn copy(&mut self, ns: &str, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>, replace: bool) -> bool {
        self.copy_key(ns, src.as_ref(), dst.as_ref(), !replace, false)
    }

    /// `Database::Copy(src, dst, nx, delete_old)`.
    fn copy_key(&mut self, ns: &str, src: &[u8], dst: &[u8], nx: bool, delete_old: bool) -> bool {
        let Some((meta, _)) = self.live(ns, src) else { return false };
        if nx && self.live(ns, dst).is_some() {
            return false;
        }
        if src == dst {
            return true;
        }
        let (src_key, dst_key) = (self.ns_key(ns, src), self.ns_key(ns, dst));
        let raw = self.get(Cf::Metadata, &src_key).unwrap_or_default();
        let mut w = self.write(Some(meta.kind.id().to_string()));
        if delete_old {
            w.delete(Cf::Metadata, &src_key);
        }
        w.put(Cf::Metadata, &dst_key, &raw);
        if !meta.kind.is_single_kv() {
            let cf = if meta.kind == KvType::Stream { Cf::Stream } else { Cf::Default };
            for (sub, value) in self.subkeys(cf, ns, src, meta.version) {
                w.put(cf, &self.internal_key(ns, dst, meta.version, &sub), &value);
                if meta.kind == KvType::ZSet {
                    let score_key = self.internal_key(ns, dst, meta.version, &[&value[..], &sub].concat());
                    w.put(Cf::ZSetScore, &score_key, b"");
                }
            }
        }
        w.commit();
        true
    }

    /// `FLUSHDB` in namespace `ns` (`Database::FlushDB`): one `DeleteRange` in the metadata
    /// CF from `ComposeNamespaceKey(ns, "")` (no slot id) to its `StringNext`, no LogData.
    pub fn flushdb(&mut self, ns: &str) {
        let begin = super::encode::ns_key(super::Layout { cluster: false }, ns, b"");
        let end = string_next(&begin);
        let mut w = self.write(None);
        w.delete_range(Cf::Metadata, &begin, &end);
        w.commit();
    }

    /// `FLUSHALL` (`Database::FlushAll`): one `DeleteRange` in the metadata CF from its first
    /// key to the `StringNext` of its last one (every namespace, expired keys included), no
    /// LogData; nothing when the CF is empty.
    pub fn flushall(&mut self) {
        let Some((first, last)) = self.edges(Cf::Metadata) else { return };
        let mut w = self.write(None);
        w.delete_range(Cf::Metadata, &first, &string_next(&last));
        w.commit();
    }

    /// The live keys of `ns` and their types, in key order (what `FLUSHDB` removes).
    pub fn keys(&self, ns: &str) -> Vec<(Vec<u8>, KvType)> {
        let begin = super::encode::ns_key(super::Layout { cluster: false }, ns, b"");
        let skip = begin.len() + if self.layout.cluster { 2 } else { 0 };
        let now = now_ms();
        let rows = self.scan_range(Cf::Metadata, &begin, &string_next(&begin));
        rows.into_iter()
            .filter_map(|(key, value)| {
                let (meta, _) = Metadata::decode(&value)?;
                (!meta.is_dead(now)).then(|| (key.get(skip..).unwrap_or_default().to_vec(), meta.kind))
            })
            .collect()
    }
}

/// `util::StringNext`: the last byte that is not 0xff incremented.
pub(super) fn string_next(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(b) = out.iter_mut().rev().find(|b| **b != 0xff) {
        *b += 1;
    }
    out
}
