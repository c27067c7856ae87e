//! A typed decoding of one WriteBatch: every record with its column family, its key split
//! into parts and its value decoded, grouped by the LogData that precedes it.
//!
//! Kvrocks writes each command's batch as `LogData, record, record, ...`; a MULTI/EXEC or a
//! RocksDB group commit concatenates several such runs in one batch, so one [`Update`] can
//! hold several [`Group`]s. Records before the first LogData (FLUSHDB's DeleteRange has
//! none) form a group with `log: None`. A `ServerLogData` (replication id) does not start a
//! group; it is kept in [`Update::replication_id`].
//!
//! Default-CF subkeys do not say their type. Within a group the type comes from a metadata
//! put of the same key in that group, else from the group's LogData type; if neither says,
//! the subkey stays [`SubKey::Unknown`].

use crate::batch::{Batch, Op, Record};
use crate::cf::ColumnFamily;
use crate::error::{KvrocksError, Result};
use crate::key::{InternalKey, KeyLayout, MetadataKey};
use crate::log_data::LogData;
use crate::metadata::{Metadata, RedisType};
use crate::subkey::{SubKey, SubValue};

/// One decoded WriteBatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Update<'a> {
    /// Sequence number of the first record.
    pub sequence: u64,
    /// Sequence-consuming records in the batch.
    pub count: u32,
    /// The replication id, when the master runs with `use-rsid-psync yes`.
    pub replication_id: Option<&'a [u8]>,
    /// The records, grouped by LogData, in batch order.
    pub groups: Vec<Group<'a>>,
}

/// The records that follow one LogData.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<'a> {
    /// The LogData (always [`LogData::Redis`]); `None` for records before any LogData.
    pub log: Option<LogData<'a>>,
    /// The records.
    pub entries: Vec<Entry<'a>>,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    /// Offset of the record in the batch rep.
    pub offset: usize,
    /// Sequence number of the record, for sequence-consuming records.
    pub sequence: Option<u64>,
    /// What it does.
    pub change: Change<'a>,
}

/// A record in Kvrocks terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<'a> {
    /// A metadata put: a key created or changed.
    PutMetadata {
        /// The key.
        key: MetadataKey<'a>,
        /// Its new metadata (and, for strings and JSON, value).
        metadata: Metadata<'a>,
    },
    /// A metadata delete: the key is gone (its subkeys become garbage).
    DeleteMetadata {
        /// The key.
        key: MetadataKey<'a>,
    },
    /// A subkey put in the default, zset_score or stream CF.
    PutSubkey {
        /// The column family.
        cf: ColumnFamily,
        /// The key parts.
        key: InternalKey<'a>,
        /// The decoded sub_key.
        sub: SubKey<'a>,
        /// The decoded value.
        value: SubValue<'a>,
    },
    /// A subkey delete in the default, zset_score or stream CF.
    DeleteSubkey {
        /// The column family.
        cf: ColumnFamily,
        /// The key parts.
        key: InternalKey<'a>,
        /// The decoded sub_key.
        sub: SubKey<'a>,
    },
    /// A DeleteRange `[begin, end)`: FLUSHDB and FLUSHALL on the metadata CF.
    DeleteRange {
        /// The column family.
        cf: ColumnFamily,
        /// First key deleted.
        begin: &'a [u8],
        /// First key kept.
        end: &'a [u8],
    },
    /// A PUBLISH (pubsub CF put).
    Publish {
        /// The channel.
        channel: &'a [u8],
        /// The message.
        message: &'a [u8],
    },
    /// A propagate-CF put: a script, function, namespace table or replication id.
    Propagate {
        /// The key (`script`, `lua_f_<sha>`, `__namespace_keys__`, ...).
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Anything else, raw: Merge, SingleDelete, BlobIndex, PutEntity, TimedPut, markers,
    /// Noop, search-CF records, deletes in the pubsub and propagate CFs.
    Other(Op<'a>),
}

impl<'a> Change<'a> {
    /// For a metadata-CF DeleteRange that covers exactly one namespace (FLUSHDB), the
    /// namespace. FLUSHALL's range (first key to after the last key) gives `None`.
    pub fn flushed_namespace(&self) -> Option<&'a [u8]> {
        let Change::DeleteRange { cf: ColumnFamily::Metadata, begin, end } = *self else { return None };
        let (&len, namespace) = begin.split_first()?;
        (namespace.len() == usize::from(len) && string_next(begin).as_deref() == Some(end)).then_some(namespace)
    }
}

/// Kvrocks' `util::StringNext`: the last byte that is not 0xff, plus one.
fn string_next(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut next = bytes.to_vec();
    let last = next.iter_mut().rev().find(|b| **b != 0xff)?;
    *last += 1;
    Some(next)
}

impl<'a> Update<'a> {
    /// Decodes a WriteBatch rep.
    pub fn decode(rep: &'a [u8], layout: KeyLayout) -> Result<Self> {
        let batch = Batch::load(rep)?;
        let mut replication_id = None;
        let mut raw: Vec<(Option<LogData<'a>>, Vec<Record<'a>>)> = Vec::new();
        for record in batch.records() {
            let record = record?;
            if let Op::LogData(blob) = record.op {
                let log = LogData::parse(blob)
                    .map_err(|e| KvrocksError::LogData { offset: record.offset, source: Box::new(e) })?;
                match log {
                    LogData::ReplicationId(id) => replication_id = Some(id),
                    log => raw.push((Some(log), Vec::new())),
                }
                continue;
            }
            match raw.last_mut() {
                Some((_, records)) => records.push(record),
                None => raw.push((None, vec![record])),
            }
        }
        let groups =
            raw.into_iter().map(|(log, records)| decode_group(log, &records, layout)).collect::<Result<Vec<_>>>()?;
        Ok(Self { sequence: batch.sequence(), count: batch.count(), replication_id, groups })
    }

    /// The sequence a replica asks for after this batch.
    pub fn next_sequence(&self) -> u64 {
        self.sequence.saturating_add(u64::from(self.count))
    }

    /// All entries of all groups, in batch order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry<'a>> {
        self.groups.iter().flat_map(|g| g.entries.iter())
    }
}

fn decode_group<'a>(log: Option<LogData<'a>>, records: &[Record<'a>], layout: KeyLayout) -> Result<Group<'a>> {
    let types = metadata_types(records, layout);
    let log_type = log.as_ref().and_then(LogData::as_redis).and_then(|l| l.redis_type());
    let entries = records
        .iter()
        .map(|r| {
            let change = decode_op(r, layout, |key| {
                types
                    .iter()
                    .find(|(k, _)| k.namespace == key.namespace && k.key == key.key)
                    .map(|(_, t)| *t)
                    .or(log_type)
            })?;
            Ok(Entry { offset: r.offset, sequence: r.sequence, change })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Group { log, entries })
}

/// The types that the group's metadata puts declare, by key. Undecodable ones are skipped
/// here and reported when their own record is decoded.
fn metadata_types<'a>(records: &[Record<'a>], layout: KeyLayout) -> Vec<(MetadataKey<'a>, RedisType)> {
    records
        .iter()
        .filter_map(|r| match r.op {
            Op::Put { cf: 1, key, value } => {
                let key = MetadataKey::load(key, layout).ok()?;
                let meta = Metadata::load(value).ok()?;
                Some((key, meta.redis_type))
            }
            _ => None,
        })
        .collect()
}

fn decode_op<'a>(
    record: &Record<'a>,
    layout: KeyLayout,
    type_of: impl Fn(&InternalKey<'a>) -> Option<RedisType>,
) -> Result<Change<'a>> {
    let op = record.op;
    let Some(cf_id) = op.cf_id() else { return Ok(Change::Other(op)) };
    let cf =
        ColumnFamily::from_id(cf_id).ok_or(KvrocksError::UnknownColumnFamily { id: cf_id, offset: record.offset })?;
    let wrap = |e| in_record(record.offset, cf, e);
    let change = match (cf, op) {
        (ColumnFamily::Metadata, Op::Put { key, value, .. }) => Change::PutMetadata {
            key: MetadataKey::load(key, layout).map_err(wrap)?,
            metadata: Metadata::load(value).map_err(wrap)?,
        },
        (ColumnFamily::Metadata, Op::Delete { key, .. }) => {
            Change::DeleteMetadata { key: MetadataKey::load(key, layout).map_err(wrap)? }
        }
        (_, Op::DeleteRange { begin, end, .. }) => Change::DeleteRange { cf, begin, end },
        (
            ColumnFamily::PrimarySubkey | ColumnFamily::SecondarySubkey | ColumnFamily::Stream,
            Op::Put { key, value, .. },
        ) => {
            let key = InternalKey::load(key, layout).map_err(wrap)?;
            let sub = SubKey::load(cf, type_of(&key), key.sub_key).map_err(wrap)?;
            Change::PutSubkey { cf, key, sub, value: sub.value(value).map_err(wrap)? }
        }
        (
            ColumnFamily::PrimarySubkey | ColumnFamily::SecondarySubkey | ColumnFamily::Stream,
            Op::Delete { key, .. },
        ) => {
            let key = InternalKey::load(key, layout).map_err(wrap)?;
            Change::DeleteSubkey { cf, sub: SubKey::load(cf, type_of(&key), key.sub_key).map_err(wrap)?, key }
        }
        (ColumnFamily::PubSub, Op::Put { key, value, .. }) => Change::Publish { channel: key, message: value },
        (ColumnFamily::Propagate, Op::Put { key, value, .. }) => Change::Propagate { key, value },
        _ => Change::Other(op),
    };
    Ok(change)
}

fn in_record(offset: usize, cf: ColumnFamily, source: KvrocksError) -> KvrocksError {
    KvrocksError::Record { offset, cf, source: Box::new(source) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::batch::tests::{unhex, GOLDEN_HSET, GOLDEN_SET};
    use crate::metadata::Extra;

    fn rep(sequence: u64, count: u32, records: &[u8]) -> Vec<u8> {
        let mut out = sequence.to_le_bytes().to_vec();
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(records);
        out
    }

    #[test]
    fn golden_set() {
        let bytes = unhex(GOLDEN_SET);
        let u = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap();
        assert_eq!((u.sequence, u.count, u.next_sequence()), (4, 1, 5));
        assert_eq!(u.groups.len(), 1);
        let log = u.groups[0].log.unwrap();
        assert_eq!(log.as_redis().unwrap().redis_type(), Some(RedisType::String));
        let Change::PutMetadata { key, metadata } = &u.groups[0].entries[0].change else { panic!() };
        assert_eq!((key.namespace, key.key), (&b"__namespace"[..], &b"a"[..]));
        assert_eq!(metadata.extra, Extra::String(b"1"));
    }

    #[test]
    fn golden_hset_types_the_field_from_the_metadata() {
        let bytes = unhex(GOLDEN_HSET);
        let u = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap();
        let entries = &u.groups[0].entries;
        assert_eq!(entries.len(), 2);
        let Change::PutSubkey { cf, key, sub, value } = &entries[0].change else { panic!() };
        assert_eq!(*cf, ColumnFamily::PrimarySubkey);
        assert_eq!(key.key, b"hash");
        assert_eq!(*sub, SubKey::HashField(b"field"));
        assert_eq!(*value, SubValue::Bytes(b"value"));
        let Change::PutMetadata { metadata, .. } = &entries[1].change else { panic!() };
        assert_eq!((metadata.redis_type, metadata.size), (RedisType::Hash, 2));
        assert_eq!(entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), [Some(5), Some(6)]);
    }

    #[test]
    fn flushdb_without_log_data() {
        // FLUSHDB in namespace ns1, as captured from Kvrocks 2.10.1.
        let bytes = rep(0xb6, 1, b"\x0e\x01\x04\x03ns1\x04\x03ns2");
        let u = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap();
        assert_eq!(u.groups.len(), 1);
        assert_eq!(u.groups[0].log, None);
        let change = &u.groups[0].entries[0].change;
        assert_eq!(change.flushed_namespace(), Some(&b"ns1"[..]));
        let all = Change::DeleteRange { cf: ColumnFamily::Metadata, begin: b"\x03ns1a", end: b"\x0b__namespacf" };
        assert_eq!(all.flushed_namespace(), None);
    }

    #[test]
    fn multi_exec_is_two_groups_and_replication_id_is_kept_apart() {
        let mut recs = Vec::new();
        recs.extend_from_slice(b"\x03\x011\x05\x01\x06\x03ns1k1\x09\x81\x00\x00\x00\x00\x00\x00\x00\x00");
        recs.extend_from_slice(b"\x03\x011\x05\x01\x06\x03ns1k2\x09\x81\x00\x00\x00\x00\x00\x00\x00\x00");
        recs.extend_from_slice(b"\x03\x12r 0123456789abcdef");
        let bytes = rep(10, 2, &recs);
        let u = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap();
        assert_eq!(u.groups.len(), 2);
        assert_eq!(u.replication_id, Some(&b"0123456789abcdef"[..]));
        assert_eq!(u.entries().count(), 2);
    }

    #[test]
    fn unknown_cf_and_bad_values_are_errors_naming_the_record() {
        let bytes = rep(1, 1, b"\x05\x07\x01k\x01v");
        assert_eq!(
            Update::decode(&bytes, KeyLayout::STANDALONE).unwrap_err(),
            KvrocksError::UnknownColumnFamily { id: 7, offset: 12 }
        );
        let bytes = rep(1, 1, b"\x03\x011\x05\x01\x02\x00k\x01\x8f");
        let err = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap_err();
        assert_eq!(
            err,
            KvrocksError::Record {
                offset: 15,
                cf: ColumnFamily::Metadata,
                source: Box::new(KvrocksError::UnknownType { type_id: 15, flags: 0x8f, offset: 0 })
            }
        );
        assert_eq!(err.to_string(), "record at offset 15 (cf 1 (metadata)): unknown Kvrocks type 15 in metadata flags 0x8f at offset 0 (expected 1-11)");
    }

    #[test]
    fn bad_log_data_names_its_record() {
        let bytes = rep(1, 0, b"\x03\x02xy");
        let err = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap_err();
        assert!(matches!(err, KvrocksError::LogData { offset: 12, .. }), "{err}");
    }

    #[test]
    fn subkey_without_any_type_stays_unknown() {
        let mut recs = b"\x03\x010\x00".to_vec();
        let key = b"\x00\x00\x00\x00\x01k\x00\x00\x00\x00\x00\x00\x00\x01sub";
        recs.push(key.len() as u8);
        recs.extend_from_slice(key);
        let bytes = rep(1, 1, &recs);
        let u = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap();
        let Change::DeleteSubkey { sub, .. } = &u.groups[0].entries[0].change else { panic!() };
        assert_eq!(*sub, SubKey::Unknown(b"sub"));
    }
}
