//! Streams as Kvrocks 2.10 writes them (`src/types/redis_stream.cc`), all subkeys in the
//! `stream` CF: entries (`ms | seq` → varint32 strings), and after `u64::MAX` a type byte:
//! groups (1), consumers (2), pending entries (3) (those are [`groups`](super::groups)).
//! The metadata carries five ids, the entries added and the group count after its common
//! part. This file owns the entry commands (`XADD`, `XDEL`, `XTRIM`, `XSETID`) and whole
//! streams built from a [`StreamSpec`]; LogData `8` (`8 XSETID` for `XSETID`).

use super::encode::{put_metadata_extras, put_varstring, Encoding, Expiry, KvType, Metadata};
use super::{Cf, KvrocksCheckpoint};

/// An entry id, `(ms, seq)`.
pub type Id = (u64, u64);

/// One entry to `XADD`.
#[derive(Debug, Clone, Default)]
pub struct EntrySpec {
    /// Its id (explicit, above the stream's last id).
    pub id: Id,
    /// Field, value pairs.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A pending entry of a group.
#[derive(Debug, Clone, Default)]
pub struct PendingSpec {
    /// The entry.
    pub id: Id,
    /// Its owner (one of the group's consumers).
    pub consumer: Vec<u8>,
    /// Last delivery, unix ms.
    pub delivery_ms: u64,
    /// Deliveries so far.
    pub delivery_count: u64,
}

/// A consumer group.
#[derive(Debug, Clone, Default)]
pub struct GroupSpec {
    /// Its name.
    pub name: Vec<u8>,
    /// Its last delivered id.
    pub last_delivered: Id,
    /// `entries-read` (-1: unknown).
    pub entries_read: i64,
    /// Its consumers, with the last interaction time written for each.
    pub consumers: Vec<Vec<u8>>,
    /// Its pending entries.
    pub pending: Vec<PendingSpec>,
}

/// A whole stream: entries added in order, then some deleted, then groups created.
#[derive(Debug, Clone, Default)]
pub struct StreamSpec {
    /// Entries, in id order.
    pub entries: Vec<EntrySpec>,
    /// Ids of entries deleted after they were all added (`XDEL`).
    pub deleted: Vec<Id>,
    /// Consumer groups.
    pub groups: Vec<GroupSpec>,
}

/// An `XTRIM` strategy (exact, `=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// `MAXLEN n`.
    MaxLen(u64),
    /// `MINID id`.
    MinId(Id),
}

/// The stream part of the metadata (`StreamMetadata`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ids {
    pub(super) last_generated: Id,
    pub(super) recorded_first: Id,
    pub(super) max_deleted: Id,
    pub(super) first: Id,
    pub(super) last: Id,
    pub(super) entries_added: u64,
    pub(super) group_number: u64,
}

impl Ids {
    fn load(extras: &[u8]) -> Ids {
        let v: Vec<u64> = extras.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().unwrap())).collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        Ids {
            last_generated: (at(0), at(1)),
            recorded_first: (at(2), at(3)),
            max_deleted: (at(4), at(5)),
            first: (at(6), at(7)),
            last: (at(8), at(9)),
            entries_added: at(10),
            group_number: at(11),
        }
    }

    pub(super) fn encode(&self, meta: &Metadata) -> Vec<u8> {
        let mut out = meta.encode();
        let ids = [self.last_generated, self.recorded_first, self.max_deleted, self.first, self.last];
        put_metadata_extras(&mut out, &ids.iter().flat_map(|(ms, seq)| [*ms, *seq]).collect::<Vec<_>>());
        put_metadata_extras(&mut out, &[self.entries_added, self.group_number]);
        out
    }
}

impl KvrocksCheckpoint {
    /// Writes `spec` as `XADD`s (one write each), one `XDEL` of `spec.deleted`, then per
    /// group an `XGROUP CREATE`, an `XGROUP CREATECONSUMER` per consumer and one write of
    /// its pending entries (as `XCLAIM` leaves them), all with LogData `8`.
    pub fn stream(&mut self, ns: &str, key: impl AsRef<[u8]>, spec: &StreamSpec, expiry: Expiry, enc: Encoding) {
        let key = key.as_ref();
        for entry in &spec.entries {
            self.add_entry(ns, key, entry, enc);
        }
        if !spec.deleted.is_empty() {
            self.xdel(ns, key, &spec.deleted);
        }
        for group in &spec.groups {
            self.spec_group(ns, key, group);
        }
        self.expire_at(ns, key, expiry);
    }

    /// The live stream's metadata and ids; panics on another type.
    pub(super) fn stream_meta(&self, ns: &str, key: &[u8]) -> Option<(Metadata, Ids)> {
        self.existing(ns, key, KvType::Stream).map(|(meta, extras)| (meta, Ids::load(&extras)))
    }

    /// `XADD k <id> f v ...` (`Stream::Add`) on a new (64-bit) or existing stream.
    pub fn xadd(&mut self, ns: &str, key: impl AsRef<[u8]>, entry: &EntrySpec) {
        self.add_entry(ns, key.as_ref(), entry, Encoding::New);
    }

    fn add_entry(&mut self, ns: &str, key: &[u8], entry: &EntrySpec, enc: Encoding) {
        let (mut meta, extras) = self.open_key(ns, key, KvType::Stream, enc);
        let mut ids = Ids::load(&extras);
        let mut value = Vec::new();
        for (f, v) in &entry.fields {
            put_varstring(&mut value, f);
            put_varstring(&mut value, v);
        }
        let mut w = self.write(Some("8".into()));
        w.put(Cf::Stream, &self.internal_key(ns, key, meta.version, &id_bytes(entry.id)), &value);
        (ids.last_generated, ids.last) = (entry.id, entry.id);
        meta.size += 1;
        if meta.size == 1 {
            (ids.first, ids.recorded_first) = (entry.id, entry.id);
        }
        ids.entries_added += 1;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &ids.encode(&meta));
        w.commit();
    }

    /// `XDEL k id...` (`Stream::DeleteEntries`): the entries' deletes; the max deleted id
    /// moves up; a deleted first (last) entry hands its place to the next (previous) subkey
    /// the database holds; all deleted clears the ids. Nothing on a missing stream; a batch
    /// of LogData only when no id exists. Returns how many went.
    pub fn xdel(&mut self, ns: &str, key: impl AsRef<[u8]>, ids: &[Id]) -> u64 {
        let key = key.as_ref();
        let Some((mut meta, mut s)) = self.stream_meta(ns, key) else { return 0 };
        let rows: Vec<Vec<u8>> = self.subkeys(Cf::Stream, ns, key, meta.version).into_iter().map(|(k, _)| k).collect();
        let mut w = self.write(Some("8".into()));
        let mut deleted = 0;
        for id in ids {
            let sub = id_bytes(*id);
            let entry_key = self.internal_key(ns, key, meta.version, &sub);
            if w.get(Cf::Stream, &entry_key).is_none() {
                continue;
            }
            deleted += 1;
            w.delete(Cf::Stream, &entry_key);
            s.max_deleted = s.max_deleted.max(*id);
            if deleted == meta.size {
                (s.first, s.last, s.recorded_first) = ((0, 0), (0, 0), (0, 0));
                break;
            }
            if *id == s.first {
                s.first = rows.iter().find(|r| **r > sub).map_or((0, 0), |r| id_of(r));
                s.recorded_first = s.first;
            }
            if *id == s.last {
                s.last = rows.iter().rev().find(|r| **r < sub).map_or((0, 0), |r| id_of(r));
            }
        }
        if deleted > 0 {
            meta.size -= deleted;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &s.encode(&meta));
        }
        w.commit();
        deleted
    }

    /// `XTRIM k MAXLEN|MINID = x` (`Stream::Trim`): the entries from the first one deleted
    /// until the strategy holds, the first id following, the max deleted id set to the last
    /// one deleted (even below a previous one); nothing when none goes. Returns how many.
    pub fn xtrim(&mut self, ns: &str, key: impl AsRef<[u8]>, trim: Trim) -> u64 {
        let key = key.as_ref();
        let Some((mut meta, mut s)) = self.stream_meta(ns, key) else { return 0 };
        let done = |size: u64, first: Id| match trim {
            Trim::MaxLen(n) => size <= n,
            Trim::MinId(id) => first >= id,
        };
        if meta.size == 0 || done(meta.size, s.first) {
            return 0;
        }
        let rows = self.subkeys(Cf::Stream, ns, key, meta.version);
        let start = id_bytes(s.first);
        let mut rows = rows.iter().map(|(k, _)| k).skip_while(|k| **k < start).peekable();
        let mut w = self.write(Some("8".into()));
        let (mut deleted, mut last_deleted) = (0, None);
        while meta.size > 0 && !done(meta.size, s.first) {
            let Some(sub) = rows.next() else { break };
            w.delete(Cf::Stream, &self.internal_key(ns, key, meta.version, sub));
            (deleted, meta.size, last_deleted) = (deleted + 1, meta.size - 1, Some(id_of(sub)));
            s.first = rows.peek().map_or((0, 0), |next| id_of(next));
            s.recorded_first = s.first;
        }
        if meta.size == 0 {
            (s.first, s.last, s.recorded_first) = ((0, 0), (0, 0), (0, 0));
        }
        let Some(last_deleted) = last_deleted else { return 0 };
        s.max_deleted = last_deleted;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &s.encode(&meta));
        w.commit();
        deleted
    }

    /// `XSETID k last [ENTRIESADDED n] [MAXDELETEDID id]` (`Stream::SetId`): LogData
    /// `8 XSETID`, the metadata; on a missing key an empty stream (64-bit). Panics where
    /// Kvrocks refuses.
    pub fn xsetid(&mut self, ns: &str, key: impl AsRef<[u8]>, last: Id, added: Option<u64>, max_deleted: Option<Id>) {
        let key = key.as_ref();
        assert!(max_deleted.is_none_or(|m| m <= last), "XSETID: max deleted id above the last id");
        let (meta, mut s) = match self.stream_meta(ns, key) {
            Some(found) => found,
            None => {
                assert!(added.unwrap_or(0) > 0 && max_deleted.unwrap_or_default() != (0, 0), "XSETID: empty stream");
                (Metadata::new(KvType::Stream, Encoding::New, self.next_version()), Ids::default())
            }
        };
        assert!(meta.size == 0 || last >= s.last_generated, "XSETID: smaller than the last id");
        assert!(meta.size == 0 || added.is_none_or(|n| n >= meta.size), "XSETID: entries added below the size");
        s.last_generated = last;
        s.entries_added = added.unwrap_or(s.entries_added);
        s.max_deleted = max_deleted.filter(|m| *m != (0, 0)).unwrap_or(s.max_deleted);
        let mut w = self.write(Some("8 XSETID".into()));
        w.put(Cf::Metadata, &self.ns_key(ns, key), &s.encode(&meta));
        w.commit();
    }
}

/// The id of an entry subkey (`entryIDFromInternalKey`: its first 16 bytes, whatever the
/// subkey is).
pub(super) fn id_of(sub: &[u8]) -> Id {
    let word = |at: usize| sub.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes);
    (word(0), word(8))
}

pub(super) fn id_bytes((ms, seq): Id) -> Vec<u8> {
    [ms.to_be_bytes(), seq.to_be_bytes()].concat()
}
