//! Streams as Kvrocks 2.10 writes them (`src/types/redis_stream.cc`), all subkeys in the
//! `stream` CF: entries (`ms | seq` → varint32 strings), and after `u64::MAX` a type byte:
//! groups (1), consumers (2), pending entries (3). The metadata carries five ids, the
//! entries added and the group count after its common part.

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

/// The stream part of the metadata (`StreamMetadata`).
#[derive(Debug, Clone, Copy, Default)]
struct Ids {
    last_generated: Id,
    recorded_first: Id,
    max_deleted: Id,
    first: Id,
    last: Id,
    entries_added: u64,
    group_number: u64,
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

    fn encode(&self, meta: &Metadata) -> Vec<u8> {
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
            self.xadd(ns, key, entry, enc);
        }
        if !spec.deleted.is_empty() {
            self.xdel(ns, key, spec);
        }
        for group in &spec.groups {
            self.xgroup(ns, key, group);
        }
        self.expire_at(ns, key, expiry);
    }

    /// The stream's live metadata and ids.
    fn open_stream(&self, ns: &str, key: &[u8], enc: Encoding) -> (Metadata, Ids) {
        let (meta, extras) = self.open_key(ns, key, KvType::Stream, enc);
        (meta, Ids::load(&extras))
    }

    /// `XADD k <id> f v ...` (`Stream::Add`).
    fn xadd(&mut self, ns: &str, key: &[u8], entry: &EntrySpec, enc: Encoding) {
        let (mut meta, mut ids) = self.open_stream(ns, key, enc);
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

    /// `XDEL k id ...` (`Stream::DeleteEntries`): the entries go, the max deleted id moves,
    /// and the first and last ids follow the entries left.
    fn xdel(&mut self, ns: &str, key: &[u8], spec: &StreamSpec) {
        let (mut meta, mut ids) = self.open_stream(ns, key, Encoding::New);
        let mut w = self.write(Some("8".into()));
        for id in &spec.deleted {
            w.delete(Cf::Stream, &self.internal_key(ns, key, meta.version, &id_bytes(*id)));
            ids.max_deleted = ids.max_deleted.max(*id);
        }
        let left: Vec<Id> = spec.entries.iter().map(|e| e.id).filter(|id| !spec.deleted.contains(id)).collect();
        meta.size = left.len() as u64;
        ids.first = left.first().copied().unwrap_or_default();
        ids.last = left.last().copied().unwrap_or_default();
        ids.recorded_first = ids.first;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &ids.encode(&meta));
        w.commit();
    }

    /// `XGROUP CREATE`, `XGROUP CREATECONSUMER` per consumer, then the pending entries.
    fn xgroup(&mut self, ns: &str, key: &[u8], group: &GroupSpec) {
        let (meta, mut ids) = self.open_stream(ns, key, Encoding::New);
        let sub = |parts: &[&[u8]]| self.internal_key(ns, key, meta.version, &parts.concat());
        let group_key = sub(&[&u64::MAX.to_be_bytes(), &[1], &len_bytes(&group.name), &group.name]);
        let consumer_key =
            |c: &[u8]| sub(&[&u64::MAX.to_be_bytes(), &[2], &len_bytes(&group.name), &group.name, &len_bytes(c), c]);
        let lag = if group.entries_read >= 0 { ids.entries_added.saturating_sub(group.entries_read as u64) } else { 0 };
        let mut value =
            GroupValue { consumers: 0, pending: 0, last: group.last_delivered, read: group.entries_read, lag };
        let mut w = self.write(Some("8".into()));
        w.put(Cf::Stream, &group_key, &value.encode());
        ids.group_number += 1;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &ids.encode(&meta));
        w.commit();
        for consumer in &group.consumers {
            let mut w = self.write(Some("8".into()));
            value.consumers += 1;
            w.put(Cf::Stream, &consumer_key(consumer), &consumer_value(0, 0));
            w.put(Cf::Stream, &group_key, &value.encode());
            w.commit();
        }
        if group.pending.is_empty() {
            return;
        }
        let mut w = self.write(Some("8".into()));
        for p in &group.pending {
            let pel_key = sub(&[&u64::MAX.to_be_bytes(), &[3], &len_bytes(&group.name), &group.name, &id_bytes(p.id)]);
            let mut pel = [p.delivery_ms.to_be_bytes(), p.delivery_count.to_be_bytes()].concat();
            pel.extend_from_slice(&len_bytes(&p.consumer));
            pel.extend_from_slice(&p.consumer);
            w.put(Cf::Stream, &pel_key, &pel);
        }
        for consumer in &group.consumers {
            let mine = group.pending.iter().filter(|p| &p.consumer == consumer);
            let (count, time) = (mine.clone().count() as u64, mine.map(|p| p.delivery_ms).max().unwrap_or(0));
            w.put(Cf::Stream, &consumer_key(consumer), &consumer_value(count, time));
        }
        value.pending = group.pending.len() as u64;
        w.put(Cf::Stream, &group_key, &value.encode());
        w.commit();
    }
}

/// A group's value (`encodeStreamConsumerGroupMetadataValue`).
struct GroupValue {
    consumers: u64,
    pending: u64,
    last: Id,
    read: i64,
    lag: u64,
}

impl GroupValue {
    fn encode(&self) -> Vec<u8> {
        let fields = [self.consumers, self.pending, self.last.0, self.last.1, self.read as u64, self.lag];
        fields.iter().flat_map(|f| f.to_be_bytes()).collect()
    }
}

/// A consumer's value (`encodeStreamConsumerMetadataValue`): pending, last attempted and
/// last successful interaction.
fn consumer_value(pending: u64, time_ms: u64) -> Vec<u8> {
    [pending, time_ms, time_ms].iter().flat_map(|f| f.to_be_bytes()).collect()
}

fn id_bytes((ms, seq): Id) -> Vec<u8> {
    [ms.to_be_bytes(), seq.to_be_bytes()].concat()
}

fn len_bytes(name: &[u8]) -> [u8; 8] {
    (name.len() as u64).to_be_bytes()
}
