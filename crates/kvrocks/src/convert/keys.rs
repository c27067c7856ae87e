//! One run of key records (a LogData group, or the part of it between two non-key
//! records) regrouped by user key, with the facts the per-type converters decide on:
//! the key's last metadata record, its subkey records in batch order, and whether the
//! run carries the key's whole value.

use crate::cf::ColumnFamily;
use crate::log_data::RedisLog;
use crate::metadata::{Extra, Metadata, RedisType};
use crate::stream::StreamKey;
use crate::subkey::{SubKey, SubValue};
use crate::update::{Change, Entry};

/// The records of one user key in a run.
#[derive(Debug)]
pub(super) struct KeyRecords<'g, 'a> {
    /// The namespace.
    pub(super) namespace: &'a [u8],
    /// The user key.
    pub(super) key: &'a [u8],
    /// The last metadata put and its offset, unless a metadata delete came after it.
    pub(super) meta: Option<(usize, &'g Metadata<'a>)>,
    /// Offset of a metadata delete that is the key's last metadata record.
    pub(super) deleted: Option<usize>,
    /// Whether the metadata put came before the key's first subkey record.
    pub(super) meta_first: bool,
    /// Subkey records, in batch order.
    pub(super) subs: Vec<SubRecord<'g, 'a>>,
}

/// One subkey put or delete.
#[derive(Debug, Clone, Copy)]
pub(super) struct SubRecord<'g, 'a> {
    /// Offset of the record in the batch rep.
    pub(super) offset: usize,
    /// Its column family.
    pub(super) cf: ColumnFamily,
    /// The version the subkey belongs to.
    pub(super) version: u64,
    /// The raw sub_key, to tell subkeys apart.
    pub(super) raw: &'a [u8],
    /// The decoded sub_key.
    pub(super) sub: &'g SubKey<'a>,
    /// The value; `None` for a delete.
    pub(super) value: Option<&'g SubValue<'a>>,
}

impl<'g, 'a> SubRecord<'g, 'a> {
    /// Whether a later record of `subs` (from index `at`) rewrites or deletes this subkey.
    fn superseded(&self, subs: &[SubRecord<'g, 'a>], at: usize) -> bool {
        subs.iter().skip(at + 1).any(|s| s.cf == self.cf && s.version == self.version && s.raw == self.raw)
    }
}

/// Whether a change is about one user key (metadata or subkey record).
pub(super) fn is_key_record(change: &Change<'_>) -> bool {
    matches!(
        change,
        Change::PutMetadata { .. }
            | Change::DeleteMetadata { .. }
            | Change::PutSubkey { .. }
            | Change::DeleteSubkey { .. }
    )
}

/// Regroups key records by user key, in order of first appearance. Other records are
/// ignored (the caller cuts runs at them).
pub(super) fn collect<'g, 'a>(entries: &'g [Entry<'a>]) -> Vec<KeyRecords<'g, 'a>> {
    let mut keys: Vec<KeyRecords<'g, 'a>> = Vec::new();
    for entry in entries {
        let (namespace, key) = match &entry.change {
            Change::PutMetadata { key, .. } | Change::DeleteMetadata { key } => (key.namespace, key.key),
            Change::PutSubkey { key, .. } | Change::DeleteSubkey { key, .. } => (key.namespace, key.key),
            _ => continue,
        };
        let index = match keys.iter().position(|k| k.namespace == namespace && k.key == key) {
            Some(index) => index,
            None => {
                keys.push(KeyRecords {
                    namespace,
                    key,
                    meta: None,
                    deleted: None,
                    meta_first: false,
                    subs: Vec::new(),
                });
                keys.len() - 1
            }
        };
        if let Some(k) = keys.get_mut(index) {
            k.add(entry);
        }
    }
    keys
}

impl<'g, 'a> KeyRecords<'g, 'a> {
    fn add(&mut self, entry: &'g Entry<'a>) {
        let offset = entry.offset;
        match &entry.change {
            Change::PutMetadata { metadata, .. } => {
                self.meta_first |= self.subs.is_empty();
                self.meta = Some((offset, metadata));
                self.deleted = None;
            }
            Change::DeleteMetadata { .. } => {
                self.meta = None;
                self.deleted = Some(offset);
            }
            Change::PutSubkey { cf, key, sub, value } => {
                let (cf, version, raw) = (*cf, key.version, key.sub_key);
                self.subs.push(SubRecord { offset, cf, version, raw, sub, value: Some(value) });
            }
            Change::DeleteSubkey { cf, key, sub } => {
                let (cf, version, raw) = (*cf, key.version, key.sub_key);
                self.subs.push(SubRecord { offset, cf, version, raw, sub, value: None });
            }
            _ => {}
        }
    }

    /// The key's type: from its metadata put, else from what its subkeys decoded as.
    pub(super) fn redis_type(&self) -> Option<RedisType> {
        self.meta.map(|(_, m)| m.redis_type).or_else(|| self.subs.iter().find_map(|s| sub_type(s.sub)))
    }

    /// The metadata put, if any.
    pub(super) fn metadata(&self) -> Option<&'g Metadata<'a>> {
        self.meta.map(|(_, m)| m)
    }

    /// Puts in `cf` that are still live at the end of the run (not rewritten or deleted
    /// later in it), in batch order.
    pub(super) fn live_puts(&self, cf: ColumnFamily) -> impl Iterator<Item = &SubRecord<'g, 'a>> + '_ {
        self.subs
            .iter()
            .enumerate()
            .filter(move |(i, s)| s.cf == cf && s.value.is_some() && !s.superseded(&self.subs, *i))
            .map(|(_, s)| s)
    }

    /// Whether the run holds the key's whole value, for types whose metadata `size`
    /// counts primary-CF subkeys (hash, set, zset, sortedint, list): as many live puts
    /// of the metadata's version as `size`. A key that gets a new version (created,
    /// replaced by RENAME/COPY/a *STORE command) has all its subkeys written in the batch
    /// that makes it, so this holds then; when it holds, a `DEL` before rebuilding the
    /// key from the run alone is exact, whatever the target held.
    pub(super) fn is_whole(&self) -> bool {
        let Some(meta) = self.metadata() else { return false };
        let live = self.live_puts(ColumnFamily::PrimarySubkey).filter(|s| s.version == meta.version).count();
        u64::try_from(live).is_ok_and(|live| live == meta.size)
    }

    /// Whether the run looks like Kvrocks' `Database::Copy` (RENAME, COPY): a LogData
    /// with the key's type and no arguments, and the metadata put before the subkeys it
    /// copies (every other writer puts subkeys first). Used for the types whose `size`
    /// does not count subkeys (bitmap, stream, bloom, hyperloglog). A copied key with no
    /// subkey (an emptied stream without groups) is its metadata alone: such a run is taken
    /// as a copy only when the metadata says the key holds nothing, so that rebuilding it
    /// whole cannot lose anything.
    pub(super) fn is_copy(&self, log: Option<&RedisLog<'_>>) -> bool {
        let typed_without_args = log.is_some_and(|l| l.redis_type() == self.redis_type() && l.args().next().is_none());
        let copied = if self.subs.is_empty() {
            self.metadata().is_some_and(|m| m.size == 0 && !matches!(m.extra, Extra::Stream(s) if s.group_number > 0))
        } else {
            self.subs.iter().any(|s| s.value.is_some())
        };
        typed_without_args && self.meta_first && copied
    }

    /// Offsets of all subkey records.
    pub(super) fn sub_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.subs.iter().map(|s| s.offset)
    }
}

fn sub_type(sub: &SubKey<'_>) -> Option<RedisType> {
    Some(match sub {
        SubKey::HashField(_) => RedisType::Hash,
        SubKey::SetMember(_) => RedisType::Set,
        SubKey::ListIndex(_) => RedisType::List,
        SubKey::ZSetMember(_) | SubKey::ZSetScore { .. } => RedisType::ZSet,
        SubKey::BitmapSegment(_) => RedisType::Bitmap,
        SubKey::SortedintId(_) => RedisType::Sortedint,
        SubKey::BloomFilter(_) => RedisType::BloomFilter,
        SubKey::HllSegment(_) => RedisType::HyperLogLog,
        SubKey::Stream(StreamKey::Entry(_) | StreamKey::Group { .. })
        | SubKey::Stream(StreamKey::Consumer { .. } | StreamKey::Pel { .. }) => RedisType::Stream,
        SubKey::Unknown(_) => return None,
    })
}
