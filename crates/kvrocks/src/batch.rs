//! A borrowing iterator over a RocksDB WriteBatch rep: the 12-byte header and the records
//! after it, with nothing about Kvrocks in them.
//!
//! Layout (RocksDB 9, `db/write_batch.cc`, `ReadRecordFromWriteBatch`):
//!
//! ```text
//! rep    := sequence:fixed64 LE | count:fixed32 LE | record*
//! record := tag:u8 | [cf:varint32 for the *CF* tags] | payload (varstrings)
//! ```
//!
//! `count` counts the records that consume a sequence number (Put, Delete, SingleDelete,
//! DeleteRange, Merge, BlobIndex, PutEntity, TimedPut); LogData, Noop and the transaction
//! markers do not. The iterator checks that count once the last record is read, as
//! RocksDB's `WriteBatchInternal::Iterate` does. Records for the default column family
//! (id 0) use the non-CF tags.

use crate::cursor::Cursor;
use crate::error::{KvrocksError, Result};

/// Bytes in the WriteBatch header: sequence (8) and count (4).
pub const HEADER_LEN: usize = 12;

/// RocksDB's WriteBatch record tags (`ValueType` in `db/dbformat.h`).
mod tag {
    pub(super) const DELETION: u8 = 0x00;
    pub(super) const VALUE: u8 = 0x01;
    pub(super) const MERGE: u8 = 0x02;
    pub(super) const LOG_DATA: u8 = 0x03;
    pub(super) const CF_DELETION: u8 = 0x04;
    pub(super) const CF_VALUE: u8 = 0x05;
    pub(super) const CF_MERGE: u8 = 0x06;
    pub(super) const SINGLE_DELETION: u8 = 0x07;
    pub(super) const CF_SINGLE_DELETION: u8 = 0x08;
    pub(super) const BEGIN_PREPARE_XID: u8 = 0x09;
    pub(super) const END_PREPARE_XID: u8 = 0x0a;
    pub(super) const COMMIT_XID: u8 = 0x0b;
    pub(super) const ROLLBACK_XID: u8 = 0x0c;
    pub(super) const NOOP: u8 = 0x0d;
    pub(super) const CF_RANGE_DELETION: u8 = 0x0e;
    pub(super) const RANGE_DELETION: u8 = 0x0f;
    pub(super) const CF_BLOB_INDEX: u8 = 0x10;
    pub(super) const BLOB_INDEX: u8 = 0x11;
    pub(super) const BEGIN_PERSISTED_PREPARE_XID: u8 = 0x12;
    pub(super) const BEGIN_UNPREPARE_XID: u8 = 0x13;
    // 0x14 (DeletionWithTimestamp) is an internal-key type, never a WriteBatch tag.
    pub(super) const COMMIT_XID_AND_TIMESTAMP: u8 = 0x15;
    pub(super) const WIDE_COLUMN_ENTITY: u8 = 0x16;
    pub(super) const CF_WIDE_COLUMN_ENTITY: u8 = 0x17;
    pub(super) const VALUE_PREFERRED_SEQNO: u8 = 0x18;
    pub(super) const CF_VALUE_PREFERRED_SEQNO: u8 = 0x19;
}

/// One WriteBatch rep: its header, and its records on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch<'a> {
    sequence: u64,
    count: u32,
    rep: &'a [u8],
}

impl<'a> Batch<'a> {
    /// Reads the header of `rep`. Records are decoded lazily by [`Batch::records`].
    pub fn load(rep: &'a [u8]) -> Result<Self> {
        let mut cursor = Cursor::new(rep);
        let sequence = cursor.u64_le("WriteBatch header sequence")?;
        let count = cursor.u32_le("WriteBatch header count")?;
        Ok(Self { sequence, count, rep })
    }

    /// The sequence number of the first sequence-consuming record.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// How many records consume a sequence number.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The sequence a replica asks for next: `sequence + count` (Kvrocks' replica does the same).
    pub fn next_sequence(&self) -> u64 {
        self.sequence.saturating_add(u64::from(self.count))
    }

    /// The whole rep, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.rep
    }

    /// The records, in order. After the last one the iterator checks the header count and
    /// yields [`KvrocksError::CountMismatch`] if it disagrees. It stops after any error.
    pub fn records(&self) -> Records<'a> {
        Records {
            cursor: Cursor::at(self.rep, HEADER_LEN),
            header_count: self.count,
            found: 0,
            next_sequence: self.sequence,
            done: false,
        }
    }
}

/// One record of a WriteBatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Offset of the tag byte in the rep.
    pub offset: usize,
    /// The sequence number this record was applied at, for sequence-consuming records.
    pub sequence: Option<u64>,
    /// What the record does.
    pub op: Op<'a>,
}

/// Which kind of begin-prepare marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareKind {
    /// `kTypeBeginPrepareXID` (WriteCommitted transactions).
    Prepare,
    /// `kTypeBeginPersistedPrepareXID` (WritePrepared transactions).
    PersistedPrepare,
    /// `kTypeBeginUnprepareXID` (WriteUnprepared transactions).
    Unprepare,
}

/// A WriteBatch record's operation. `cf` is the column family id (0 for the non-CF tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// Put (tags 0x01, 0x05).
    Put {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Delete (tags 0x00, 0x04).
    Delete {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
    },
    /// SingleDelete (tags 0x07, 0x08).
    SingleDelete {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
    },
    /// DeleteRange `[begin, end)` (tags 0x0F, 0x0E).
    DeleteRange {
        /// Column family id.
        cf: u32,
        /// First key deleted.
        begin: &'a [u8],
        /// First key kept.
        end: &'a [u8],
    },
    /// Merge (tags 0x02, 0x06).
    Merge {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
        /// The merge operand.
        value: &'a [u8],
    },
    /// A BlobDB index entry (tags 0x11, 0x10): the value lives in a blob file.
    BlobIndex {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
        /// The encoded blob index.
        index: &'a [u8],
    },
    /// A wide-column entity (tags 0x16, 0x17).
    PutEntity {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
        /// The serialized wide columns.
        entity: &'a [u8],
    },
    /// TimedPut (tags 0x18, 0x19): a put with the unix time it was written.
    TimedPut {
        /// Column family id.
        cf: u32,
        /// The key.
        key: &'a [u8],
        /// The value, without the trailing write time.
        value: &'a [u8],
        /// The write time (fixed64 LE after the value in the packed form).
        write_unix_time: u64,
    },
    /// A blob that only the WAL sees (tag 0x03); Kvrocks puts its LogData here.
    LogData(&'a [u8]),
    /// Noop (tag 0x0D).
    Noop,
    /// Start of a prepared section (tags 0x09, 0x12, 0x13).
    BeginPrepare(PrepareKind),
    /// End of a prepared section (tag 0x0A).
    EndPrepare {
        /// The transaction id.
        xid: &'a [u8],
    },
    /// Commit of a prepared transaction (tags 0x0B, 0x15).
    Commit {
        /// The transaction id.
        xid: &'a [u8],
        /// The commit timestamp, for tag 0x15.
        timestamp: Option<&'a [u8]>,
    },
    /// Rollback of a prepared transaction (tag 0x0C).
    Rollback {
        /// The transaction id.
        xid: &'a [u8],
    },
}

impl Op<'_> {
    /// Whether this record consumes a sequence number (is counted in the header).
    pub fn consumes_sequence(&self) -> bool {
        self.cf_id().is_some()
    }

    /// The column family id of a data record; `None` for LogData, Noop and markers.
    pub fn cf_id(&self) -> Option<u32> {
        match *self {
            Op::Put { cf, .. }
            | Op::Delete { cf, .. }
            | Op::SingleDelete { cf, .. }
            | Op::DeleteRange { cf, .. }
            | Op::Merge { cf, .. }
            | Op::BlobIndex { cf, .. }
            | Op::PutEntity { cf, .. }
            | Op::TimedPut { cf, .. } => Some(cf),
            Op::LogData(_)
            | Op::Noop
            | Op::BeginPrepare(_)
            | Op::EndPrepare { .. }
            | Op::Commit { .. }
            | Op::Rollback { .. } => None,
        }
    }
}

/// Iterator over a batch's records; see [`Batch::records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    cursor: Cursor<'a>,
    header_count: u32,
    found: u64,
    next_sequence: u64,
    done: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.cursor.is_empty() {
            self.done = true;
            return (self.found != u64::from(self.header_count))
                .then_some(Err(KvrocksError::CountMismatch { header: self.header_count, found: self.found }));
        }
        let offset = self.cursor.offset();
        match read_op(&mut self.cursor) {
            Ok(op) => {
                let sequence = op.consumes_sequence().then(|| {
                    let seq = self.next_sequence;
                    self.found += 1;
                    self.next_sequence = seq.saturating_add(1);
                    seq
                });
                Some(Ok(Record { offset, sequence, op }))
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

/// Reads one record, tag first.
fn read_op<'a>(c: &mut Cursor<'a>) -> Result<Op<'a>> {
    let offset = c.offset();
    let t = c.u8("record tag")?;
    match t {
        tag::VALUE | tag::CF_VALUE => {
            let cf = cf_id(c, t == tag::CF_VALUE)?;
            Ok(Op::Put { cf, key: c.varstring("Put key")?, value: c.varstring("Put value")? })
        }
        tag::DELETION | tag::CF_DELETION => {
            let cf = cf_id(c, t == tag::CF_DELETION)?;
            Ok(Op::Delete { cf, key: c.varstring("Delete key")? })
        }
        tag::SINGLE_DELETION | tag::CF_SINGLE_DELETION => {
            let cf = cf_id(c, t == tag::CF_SINGLE_DELETION)?;
            Ok(Op::SingleDelete { cf, key: c.varstring("SingleDelete key")? })
        }
        tag::RANGE_DELETION | tag::CF_RANGE_DELETION => {
            let cf = cf_id(c, t == tag::CF_RANGE_DELETION)?;
            Ok(Op::DeleteRange { cf, begin: c.varstring("DeleteRange begin")?, end: c.varstring("DeleteRange end")? })
        }
        tag::MERGE | tag::CF_MERGE => {
            let cf = cf_id(c, t == tag::CF_MERGE)?;
            Ok(Op::Merge { cf, key: c.varstring("Merge key")?, value: c.varstring("Merge value")? })
        }
        tag::BLOB_INDEX | tag::CF_BLOB_INDEX => {
            let cf = cf_id(c, t == tag::CF_BLOB_INDEX)?;
            Ok(Op::BlobIndex { cf, key: c.varstring("BlobIndex key")?, index: c.varstring("BlobIndex value")? })
        }
        tag::WIDE_COLUMN_ENTITY | tag::CF_WIDE_COLUMN_ENTITY => {
            let cf = cf_id(c, t == tag::CF_WIDE_COLUMN_ENTITY)?;
            Ok(Op::PutEntity { cf, key: c.varstring("PutEntity key")?, entity: c.varstring("PutEntity entity")? })
        }
        tag::VALUE_PREFERRED_SEQNO | tag::CF_VALUE_PREFERRED_SEQNO => {
            let cf = cf_id(c, t == tag::CF_VALUE_PREFERRED_SEQNO)?;
            let key = c.varstring("TimedPut key")?;
            let packed_at = c.offset();
            let (value, write_unix_time) = unpack_write_time(c.varstring("TimedPut value")?, packed_at)?;
            Ok(Op::TimedPut { cf, key, value, write_unix_time })
        }
        tag::LOG_DATA => Ok(Op::LogData(c.varstring("LogData blob")?)),
        tag::NOOP => Ok(Op::Noop),
        tag::BEGIN_PREPARE_XID => Ok(Op::BeginPrepare(PrepareKind::Prepare)),
        tag::BEGIN_PERSISTED_PREPARE_XID => Ok(Op::BeginPrepare(PrepareKind::PersistedPrepare)),
        tag::BEGIN_UNPREPARE_XID => Ok(Op::BeginPrepare(PrepareKind::Unprepare)),
        tag::END_PREPARE_XID => Ok(Op::EndPrepare { xid: c.varstring("EndPrepare xid")? }),
        tag::COMMIT_XID => Ok(Op::Commit { xid: c.varstring("Commit xid")?, timestamp: None }),
        tag::COMMIT_XID_AND_TIMESTAMP => {
            let timestamp = c.varstring("Commit timestamp")?;
            Ok(Op::Commit { xid: c.varstring("Commit xid")?, timestamp: Some(timestamp) })
        }
        tag::ROLLBACK_XID => Ok(Op::Rollback { xid: c.varstring("Rollback xid")? }),
        other => Err(KvrocksError::UnknownTag { tag: other, offset }),
    }
}

fn cf_id(c: &mut Cursor<'_>, has_cf: bool) -> Result<u32> {
    if has_cf {
        c.varint32("column family id")
    } else {
        Ok(0)
    }
}

/// Splits a TimedPut's packed value: the value, then the write time as fixed64 LE.
fn unpack_write_time(packed: &[u8], offset: usize) -> Result<(&[u8], u64)> {
    let split = packed
        .len()
        .checked_sub(8)
        .ok_or(KvrocksError::Malformed { what: "TimedPut value (shorter than its 8-byte write time)", offset })?;
    let (value, time) = packed.split_at(split);
    let mut c = Cursor::new(time);
    Ok((value, c.u64_le("TimedPut write time")?))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Builds a rep from a header and raw record bytes.
    fn rep(sequence: u64, count: u32, records: &[u8]) -> Vec<u8> {
        let mut out = sequence.to_le_bytes().to_vec();
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(records);
        out
    }

    fn ops(rep: &[u8]) -> Vec<Op<'_>> {
        Batch::load(rep).unwrap().records().map(|r| r.unwrap().op).collect()
    }

    /// `SET a 1` from Kvrocks' `tests/gocase/unit/applybatch/applybatch_test.go` (old 32-bit encoding).
    pub(crate) const GOLDEN_SET: &str = "04000000000000000100000003013105010D0B5F5F6E616D6573706163656106010000000031";

    /// `HSET hash field value` from the same test.
    pub(crate) const GOLDEN_HSET: &str = concat!(
        "05000000000000000200000003013201210B5F5F6E616D65737061636500000004686173683076F331696342A7",
        "6669656C640576616C75650501100B5F5F6E616D657370616365686173681102000000003076F331696342A700000002"
    );

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn golden_set() {
        let bytes = unhex(GOLDEN_SET);
        let batch = Batch::load(&bytes).unwrap();
        assert_eq!((batch.sequence(), batch.count(), batch.next_sequence()), (4, 1, 5));
        let records: Vec<_> = batch.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], Record { offset: 12, sequence: None, op: Op::LogData(b"1") });
        assert_eq!(
            records[1],
            Record {
                offset: 15,
                sequence: Some(4),
                op: Op::Put { cf: 1, key: b"\x0b__namespacea", value: b"\x01\x00\x00\x00\x001" }
            }
        );
    }

    #[test]
    fn golden_hset() {
        let bytes = unhex(GOLDEN_HSET);
        let batch = Batch::load(&bytes).unwrap();
        let records: Vec<_> = batch.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].op, Op::LogData(b"2"));
        assert_eq!(records[1].sequence, Some(5));
        assert_eq!(
            records[1].op,
            Op::Put {
                cf: 0,
                key: b"\x0b__namespace\x00\x00\x00\x04hash\x30\x76\xf3\x31\x69\x63\x42\xa7field",
                value: b"value"
            }
        );
        assert_eq!(records[2].sequence, Some(6));
        let Op::Put { cf: 1, key, value } = records[2].op else { panic!("{:?}", records[2]) };
        assert_eq!(key, b"\x0b__namespacehash");
        assert_eq!(value.len(), 17);
    }

    #[test]
    fn every_tag() {
        let mut recs = Vec::new();
        recs.extend_from_slice(b"\x00\x01k"); // Delete
        recs.extend_from_slice(b"\x01\x01k\x01v"); // Put
        recs.extend_from_slice(b"\x02\x01k\x01m"); // Merge
        recs.extend_from_slice(b"\x03\x02ld"); // LogData
        recs.extend_from_slice(b"\x04\x07\x01k"); // CF Delete
        recs.extend_from_slice(b"\x05\x80\x01\x01k\x00"); // CF Put, cf 128
        recs.extend_from_slice(b"\x06\x02\x01k\x01m"); // CF Merge
        recs.extend_from_slice(b"\x07\x01k"); // SingleDelete
        recs.extend_from_slice(b"\x08\x03\x01k"); // CF SingleDelete
        recs.extend_from_slice(b"\x09\x0a\x01x\x0b\x01x\x0c\x01x\x0d"); // prepare, end, commit, rollback, noop
        recs.extend_from_slice(b"\x0e\x01\x01a\x01b\x0f\x01a\x01b"); // CF DeleteRange, DeleteRange
        recs.extend_from_slice(b"\x10\x02\x01k\x01i\x11\x01k\x01i"); // CF BlobIndex, BlobIndex
        recs.extend_from_slice(b"\x12\x13"); // persisted prepare, unprepare
        recs.extend_from_slice(b"\x15\x02ts\x01x"); // commit with timestamp
        recs.extend_from_slice(b"\x16\x01k\x01e\x17\x04\x01k\x01e"); // entity, CF entity
        recs.extend_from_slice(b"\x18\x01k\x09v\x2a\x00\x00\x00\x00\x00\x00\x00"); // TimedPut
        recs.extend_from_slice(b"\x19\x05\x01k\x08\x01\x00\x00\x00\x00\x00\x00\x00"); // CF TimedPut, empty value
        let bytes = rep(100, 16, &recs);
        let all: Vec<_> = Batch::load(&bytes).unwrap().records().map(Result::unwrap).collect();
        let ops: Vec<_> = all.iter().map(|r| r.op).collect();
        use Op::*;
        assert_eq!(
            ops,
            vec![
                Delete { cf: 0, key: b"k" },
                Put { cf: 0, key: b"k", value: b"v" },
                Merge { cf: 0, key: b"k", value: b"m" },
                LogData(b"ld"),
                Delete { cf: 7, key: b"k" },
                Put { cf: 128, key: b"k", value: b"" },
                Merge { cf: 2, key: b"k", value: b"m" },
                SingleDelete { cf: 0, key: b"k" },
                SingleDelete { cf: 3, key: b"k" },
                BeginPrepare(PrepareKind::Prepare),
                EndPrepare { xid: b"x" },
                Commit { xid: b"x", timestamp: None },
                Rollback { xid: b"x" },
                Noop,
                DeleteRange { cf: 1, begin: b"a", end: b"b" },
                DeleteRange { cf: 0, begin: b"a", end: b"b" },
                BlobIndex { cf: 2, key: b"k", index: b"i" },
                BlobIndex { cf: 0, key: b"k", index: b"i" },
                BeginPrepare(PrepareKind::PersistedPrepare),
                BeginPrepare(PrepareKind::Unprepare),
                Commit { xid: b"x", timestamp: Some(b"ts") },
                PutEntity { cf: 0, key: b"k", entity: b"e" },
                PutEntity { cf: 4, key: b"k", entity: b"e" },
                TimedPut { cf: 0, key: b"k", value: b"v", write_unix_time: 42 },
                TimedPut { cf: 5, key: b"k", value: b"", write_unix_time: 1 },
            ]
        );
        let seqs: Vec<_> = all.iter().filter_map(|r| r.sequence).collect();
        assert_eq!(seqs, (100..116).collect::<Vec<_>>());
    }

    #[test]
    fn empty_batch() {
        let bytes = rep(7, 0, &[]);
        assert!(ops(&bytes).is_empty());
        assert_eq!(Batch::load(&bytes).unwrap().next_sequence(), 7);
    }

    #[test]
    fn short_header() {
        let err = Batch::load(&[0; 11]).unwrap_err();
        assert_eq!(
            err,
            KvrocksError::Truncated { what: "WriteBatch header count", offset: 8, needed: 4, available: 3 }
        );
    }

    #[test]
    fn unknown_tags_are_errors_with_offsets() {
        for bad in [0x14u8, 0x1a, 0x7f, 0xff] {
            let bytes = rep(1, 1, &[0x01, 0x01, b'k', 0x00, bad]);
            let results: Vec<_> = Batch::load(&bytes).unwrap().records().collect();
            assert_eq!(results.len(), 2);
            assert_eq!(results[1], Err(KvrocksError::UnknownTag { tag: bad, offset: 16 }));
        }
    }

    #[test]
    fn truncated_record_reports_field_and_offset() {
        let bytes = rep(1, 1, b"\x05\x01\x05abc");
        let err = Batch::load(&bytes).unwrap().records().next().unwrap().unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "Put key", offset: 15, needed: 5, available: 3 });
        let bytes = rep(1, 1, b"\x05");
        let err = Batch::load(&bytes).unwrap().records().next().unwrap().unwrap_err();
        assert_eq!(err, KvrocksError::Truncated { what: "column family id", offset: 13, needed: 1, available: 0 });
    }

    #[test]
    fn count_mismatch_after_last_record() {
        let bytes = rep(1, 2, b"\x03\x011\x01\x01k\x01v");
        let results: Vec<_> = Batch::load(&bytes).unwrap().records().collect();
        assert_eq!(results.len(), 3);
        assert_eq!(results[2], Err(KvrocksError::CountMismatch { header: 2, found: 1 }));
    }

    #[test]
    fn timed_put_shorter_than_its_time() {
        let bytes = rep(1, 1, b"\x18\x01k\x03abc");
        let err = Batch::load(&bytes).unwrap().records().next().unwrap().unwrap_err();
        assert!(matches!(err, KvrocksError::Malformed { offset: 15, .. }), "{err}");
    }
}
