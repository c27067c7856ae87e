//! Consumer groups as Kvrocks 2.10 keeps them (`src/types/redis_stream.cc`), in the stream
//! CF after `u64::MAX` and a type byte: a group (1: consumers, pending, last delivered id,
//! entries read, lag), a consumer (2: pending, last attempted and last successful
//! interaction ms), a pending entry (3: delivery ms, delivery count, owner). Names are
//! prefixed with their length as a u64 BE. Every command here writes LogData `8`.
//!
//! Kvrocks 2.10's `XGROUP DESTROY` (`Stream::DestroyGroup`) is kept as it is: it deletes
//! every stream-CF record of the key's version from `<len u64><name>` (without the
//! `u64::MAX | 1` head of a group key) up to the next version, that is every entry whose
//! id's ms is at least the name's length and every group, consumer and pending entry of the
//! stream, not only those of the group; the metadata keeps its size and loses one group.

use super::encode::{Encoding, KvType};
use super::stream::{id_bytes, GroupSpec, Id, Ids};
use super::{now_ms, Cf, KvrocksCheckpoint, Metadata};

/// The subkey type bytes (`StreamSubkeyType`).
const GROUP: u8 = 1;
const CONSUMER: u8 = 2;
const PENDING: u8 = 3;

/// What `XCLAIM` is given besides the ids (`min-idle-time` is 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimOptions {
    /// `TIME ms` (clamped to now when in the future, as Kvrocks and Redis do); else now.
    pub time_ms: Option<u64>,
    /// `RETRYCOUNT n`; else one more delivery (none with `JUSTID`).
    pub retry_count: Option<u64>,
    /// `FORCE`: a pending entry is created for an entry that has none.
    pub force: bool,
    /// `JUSTID`.
    pub just_id: bool,
    /// `LASTID id`: the group's last delivered id moves up to it.
    pub last_id: Option<Id>,
}

/// A group's value (`StreamConsumerGroupMetadata`).
#[derive(Debug, Clone, Copy)]
pub(super) struct GroupValue {
    pub(super) consumers: u64,
    pub(super) pending: u64,
    pub(super) last: Id,
    pub(super) read: i64,
    pub(super) lag: u64,
}

impl GroupValue {
    pub(super) fn encode(&self) -> Vec<u8> {
        let fields = [self.consumers, self.pending, self.last.0, self.last.1, self.read as u64, self.lag];
        fields.iter().flat_map(|f| f.to_be_bytes()).collect()
    }

    fn decode(bytes: &[u8]) -> GroupValue {
        let f = words(bytes);
        GroupValue { consumers: f[0], pending: f[1], last: (f[2], f[3]), read: f[4] as i64, lag: f[5] }
    }
}

/// A pending entry's value (`StreamPelEntry`).
struct Pel {
    time: u64,
    count: u64,
    consumer: Vec<u8>,
}

impl Pel {
    fn encode(&self) -> Vec<u8> {
        let mut out = [self.time, self.count, self.consumer.len() as u64]
            .iter()
            .flat_map(|f| f.to_be_bytes())
            .collect::<Vec<_>>();
        out.extend_from_slice(&self.consumer);
        out
    }

    fn decode(bytes: &[u8]) -> Pel {
        let f = words(bytes.get(..24).unwrap_or(bytes));
        let name = bytes.get(24..).unwrap_or_default();
        Pel { time: f[0], count: f[1], consumer: name.get(..f[2] as usize).unwrap_or(name).to_vec() }
    }
}

/// A consumer's value: pending, last attempted and last successful interaction.
fn consumer_value(pending: u64, time_ms: u64) -> Vec<u8> {
    [pending, time_ms, time_ms].iter().flat_map(|f| f.to_be_bytes()).collect()
}

/// Big-endian u64s, zeros past the end (as `GetFixed64` leaves a field unset).
fn words(bytes: &[u8]) -> [u64; 6] {
    let mut out = [0; 6];
    for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *slot = u64::from_be_bytes(chunk.try_into().unwrap());
    }
    out
}

fn named(name: &[u8]) -> Vec<u8> {
    [&(name.len() as u64).to_be_bytes()[..], name].concat()
}

impl KvrocksCheckpoint {
    fn group_key(&self, ns: &str, key: &[u8], meta: &Metadata, group: &[u8]) -> Vec<u8> {
        self.internal_key(ns, key, meta.version, &[&u64::MAX.to_be_bytes()[..], &[GROUP], &named(group)].concat())
    }

    fn consumer_key(&self, ns: &str, key: &[u8], meta: &Metadata, group: &[u8], consumer: &[u8]) -> Vec<u8> {
        let sub = [&u64::MAX.to_be_bytes()[..], &[CONSUMER], &named(group), &named(consumer)].concat();
        self.internal_key(ns, key, meta.version, &sub)
    }

    fn pel_key(&self, ns: &str, key: &[u8], meta: &Metadata, group: &[u8], id: Id) -> Vec<u8> {
        let sub = [&u64::MAX.to_be_bytes()[..], &[PENDING], &named(group), &id_bytes(id)].concat();
        self.internal_key(ns, key, meta.version, &sub)
    }

    /// The live stream and its group's key and value; panics when either is missing.
    fn group_of(&self, ns: &str, key: &[u8], group: &[u8]) -> (Metadata, Ids, Vec<u8>, GroupValue) {
        let (meta, ids) = self.stream_meta(ns, key).expect("XGROUP: the stream must exist");
        let group_key = self.group_key(ns, key, &meta, group);
        let value = self.get(Cf::Stream, &group_key).expect("NOGROUP: no such consumer group");
        (meta, ids, group_key, GroupValue::decode(&value))
    }

    /// `XGROUP CREATE k g <last|$> [ENTRIESREAD n] [MKSTREAM]` (`Stream::CreateGroup`):
    /// `last` `None` is `$`; `entries_read` -1 when not given; lag 0. The group, then the
    /// metadata with one more group (a new empty 64-bit stream with `mkstream`; panics
    /// without it on a missing key). Returns false (nothing written) when the group exists.
    pub fn xgroup_create(
        &mut self,
        ns: &str,
        key: &[u8],
        group: &[u8],
        last: Option<Id>,
        entries_read: i64,
        mkstream: bool,
    ) -> bool {
        let (meta, mut ids) = match self.stream_meta(ns, key) {
            Some(found) => found,
            None if mkstream => (Metadata::new(KvType::Stream, Encoding::New, self.next_version()), Ids::default()),
            None => panic!("XGROUP CREATE: no such key (and no MKSTREAM)"),
        };
        let group_key = self.group_key(ns, key, &meta, group);
        let value = GroupValue { consumers: 0, pending: 0, last: last.unwrap_or(ids.last), read: entries_read, lag: 0 };
        if self.get(Cf::Stream, &group_key).is_some() {
            return false;
        }
        let mut w = self.write(Some("8".into()));
        w.put(Cf::Stream, &group_key, &value.encode());
        ids.group_number += 1;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &ids.encode(&meta));
        w.commit();
        true
    }

    /// `XGROUP CREATECONSUMER k g c` (`createConsumerWithoutLock`): the consumer (pending 0,
    /// interaction times now), the group with one more consumer. Returns false (nothing
    /// written) when it exists.
    pub fn xgroup_createconsumer(&mut self, ns: &str, key: &[u8], group: &[u8], consumer: &[u8]) -> bool {
        let (meta, _, group_key, mut value) = self.group_of(ns, key, group);
        let consumer_key = self.consumer_key(ns, key, &meta, group, consumer);
        if self.get(Cf::Stream, &consumer_key).is_some() {
            return false;
        }
        let mut w = self.write(Some("8".into()));
        w.put(Cf::Stream, &consumer_key, &consumer_value(0, now_ms()));
        value.consumers += 1;
        w.put(Cf::Stream, &group_key, &value.encode());
        w.commit();
        true
    }

    /// `XGROUP DELCONSUMER k g c` (`Stream::DestroyConsumer`): the consumer's pending
    /// entries, the consumer, the group with its counts down. Returns the consumer's
    /// pending count (nothing written for a missing consumer).
    pub fn xgroup_delconsumer(&mut self, ns: &str, key: &[u8], group: &[u8], consumer: &[u8]) -> u64 {
        let (meta, _, group_key, mut value) = self.group_of(ns, key, group);
        let consumer_key = self.consumer_key(ns, key, &meta, group, consumer);
        let Some(own) = self.get(Cf::Stream, &consumer_key) else { return 0 };
        let pending = words(&own)[0];
        let mut w = self.write(Some("8".into()));
        let (lower, upper) =
            (self.pel_key(ns, key, &meta, group, (0, 0)), self.pel_key(ns, key, &meta, group, (u64::MAX, u64::MAX)));
        for (pel_key, pel) in self.scan_range(Cf::Stream, &lower, &upper) {
            if Pel::decode(&pel).consumer == consumer {
                w.delete(Cf::Stream, &pel_key);
            }
        }
        w.delete(Cf::Stream, &consumer_key);
        value.consumers -= 1;
        value.pending -= pending;
        w.put(Cf::Stream, &group_key, &value.encode());
        w.commit();
        pending
    }

    /// `XGROUP SETID k g <last|$> [ENTRIESREAD n]` (`Stream::GroupSetId`): the group with
    /// that last id and `entries_read` (-1 when not given).
    pub fn xgroup_setid(&mut self, ns: &str, key: &[u8], group: &[u8], last: Option<Id>, entries_read: i64) {
        let (_, ids, group_key, mut value) = self.group_of(ns, key, group);
        (value.last, value.read) = (last.unwrap_or(ids.last), entries_read);
        let mut w = self.write(Some("8".into()));
        w.put(Cf::Stream, &group_key, &value.encode());
        w.commit();
    }

    /// `XGROUP DESTROY k g` (`Stream::DestroyGroup`, with its range: see the module doc).
    /// Returns whether it deleted anything; the batch is written even when not.
    pub fn xgroup_destroy(&mut self, ns: &str, key: &[u8], group: &[u8]) -> bool {
        let (meta, mut ids) = self.stream_meta(ns, key).expect("XGROUP DESTROY: the stream must exist");
        let lower = self.internal_key(ns, key, meta.version, &named(group));
        let upper = self.internal_key(ns, key, meta.version.wrapping_add(1), &named(group));
        let mut w = self.write(Some("8".into()));
        let doomed = self.scan_range(Cf::Stream, &lower, &upper);
        for (sub_key, _) in &doomed {
            w.delete(Cf::Stream, sub_key);
        }
        if !doomed.is_empty() {
            ids.group_number -= 1;
            w.put(Cf::Metadata, &self.ns_key(ns, key), &ids.encode(&meta));
        }
        w.commit();
        !doomed.is_empty()
    }

    /// `XACK k g id...` (`Stream::DeletePelEntries`): the pending entries' deletes, the group
    /// and each owner (by name order) with their counts down. Nothing on a missing stream
    /// or group; a batch of LogData only when no id is pending. Returns how many.
    pub fn xack(&mut self, ns: &str, key: &[u8], group: &[u8], ids: &[Id]) -> u64 {
        let Some((meta, _)) = self.stream_meta(ns, key) else { return 0 };
        let group_key = self.group_key(ns, key, &meta, group);
        let Some(raw) = self.get(Cf::Stream, &group_key) else { return 0 };
        let mut w = self.write(Some("8".into()));
        let mut owners = std::collections::BTreeMap::<Vec<u8>, u64>::new();
        let mut acked = 0;
        for id in ids {
            let pel_key = self.pel_key(ns, key, &meta, group, *id);
            if let Some(pel) = self.get(Cf::Stream, &pel_key) {
                acked += 1;
                w.delete(Cf::Stream, &pel_key);
                *owners.entry(Pel::decode(&pel).consumer).or_default() += 1;
            }
        }
        if acked > 0 {
            let mut value = GroupValue::decode(&raw);
            value.pending -= acked;
            w.put(Cf::Stream, &group_key, &value.encode());
            for (owner, n) in owners {
                let consumer_key = self.consumer_key(ns, key, &meta, group, &owner);
                if let Some(c) = self.get(Cf::Stream, &consumer_key) {
                    let mut c = c;
                    let pending = words(&c)[0].wrapping_sub(n);
                    c.splice(0..8, pending.to_be_bytes());
                    w.put(Cf::Stream, &consumer_key, &c);
                }
            }
        }
        w.commit();
        acked
    }

    /// `XCLAIM k g c 0 id... [options]` (`Stream::ClaimPelEntries`): a missing consumer is
    /// first created by its own write (`XGROUP CREATECONSUMER`); then per id of an existing
    /// entry that is pending (or any, with `FORCE`): the previous owner's count down, the
    /// pending entry now owned by `consumer`; then the consumer and the group. Returns the
    /// ids claimed.
    pub fn xclaim(
        &mut self,
        ns: &str,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        ids: &[Id],
        opts: ClaimOptions,
    ) -> Vec<Id> {
        let (meta, _, group_key, mut value) = self.group_of(ns, key, group);
        let consumer_key = self.consumer_key(ns, key, &meta, group, consumer);
        let mut pending = match self.get(Cf::Stream, &consumer_key) {
            Some(c) => words(&c)[0],
            None => {
                self.xgroup_createconsumer(ns, key, group, consumer);
                value.consumers += 1;
                0
            }
        };
        let now = now_ms();
        let mut w = self.write(Some("8".into()));
        let mut claimed = Vec::new();
        for id in ids {
            if self.get(Cf::Stream, &self.internal_key(ns, key, meta.version, &id_bytes(*id))).is_none() {
                continue;
            }
            let pel_key = self.pel_key(ns, key, &meta, group, *id);
            let mut pel = match self.get(Cf::Stream, &pel_key) {
                Some(raw) => Pel::decode(&raw),
                None if opts.force => {
                    value.pending += 1;
                    Pel { time: 0, count: 0, consumer: Vec::new() }
                }
                None => continue,
            };
            claimed.push(*id);
            if !pel.consumer.is_empty() {
                let owner_key = self.consumer_key(ns, key, &meta, group, &pel.consumer);
                let mut owner = self.get(Cf::Stream, &owner_key).expect("XCLAIM: the owner of a pending entry exists");
                let left = words(&owner)[0].wrapping_sub(1);
                owner.splice(0..8, left.to_be_bytes());
                w.put(Cf::Stream, &owner_key, &owner);
            }
            pel.consumer = consumer.to_vec();
            pending += 1;
            pel.time = opts.time_ms.unwrap_or(now);
            if pel.time > now {
                pel.time = now;
            }
            pel.count = match opts.retry_count {
                Some(n) => n,
                None if !opts.just_id => pel.count + 1,
                None => pel.count,
            };
            w.put(Cf::Stream, &pel_key, &pel.encode());
        }
        if let Some(last) = opts.last_id.filter(|l| *l > value.last) {
            value.last = last;
        }
        w.put(Cf::Stream, &consumer_key, &consumer_value(pending, now));
        w.put(Cf::Stream, &group_key, &value.encode());
        w.commit();
        claimed
    }

    /// A [`GroupSpec`]: `XGROUP CREATE ... MKSTREAM`, an `XGROUP CREATECONSUMER` per consumer, then one
    /// write of its pending entries, consumers and group as claims leave them.
    pub(super) fn spec_group(&mut self, ns: &str, key: &[u8], group: &GroupSpec) {
        self.xgroup_create(ns, key, &group.name, Some(group.last_delivered), group.entries_read, true);
        for consumer in &group.consumers {
            self.xgroup_createconsumer(ns, key, &group.name, consumer);
        }
        if group.pending.is_empty() {
            return;
        }
        let (meta, _, group_key, mut value) = self.group_of(ns, key, &group.name);
        let mut w = self.write(Some("8".into()));
        for p in &group.pending {
            let pel = Pel { time: p.delivery_ms, count: p.delivery_count, consumer: p.consumer.clone() };
            w.put(Cf::Stream, &self.pel_key(ns, key, &meta, &group.name, p.id), &pel.encode());
        }
        for consumer in &group.consumers {
            let mine = group.pending.iter().filter(|p| &p.consumer == consumer);
            let (count, time) = (mine.clone().count() as u64, mine.map(|p| p.delivery_ms).max().unwrap_or(0));
            w.put(Cf::Stream, &self.consumer_key(ns, key, &meta, &group.name, consumer), &consumer_value(count, time));
        }
        value.pending = group.pending.len() as u64;
        w.put(Cf::Stream, &group_key, &value.encode());
        w.commit();
    }
}
