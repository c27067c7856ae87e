//! The crate's one error type: what could not be decoded, and where.
//!
//! Offsets are byte offsets into the slice that was being decoded: the WriteBatch rep for
//! [`crate::Batch`] records, the key or the value for keys and metadata.
//! [`KvrocksError::Record`] wraps a key or value error with the offset of
//! its record inside the batch.

use crate::cf::ColumnFamily;

/// Everything that can go wrong while decoding Kvrocks replication data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KvrocksError {
    /// The input ends before a field that must be there.
    #[error("truncated {what} at offset {offset}: need {needed} bytes, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// A varint32 that runs past 5 bytes or past 32 bits.
    #[error("bad varint32 for {what} at offset {offset}: longer than 5 bytes or above u32::MAX")]
    BadVarint {
        /// The field being read.
        what: &'static str,
        /// Where the varint starts.
        offset: usize,
    },
    /// A WriteBatch record tag that RocksDB does not define for a WriteBatch.
    #[error("unknown WriteBatch record tag 0x{tag:02x} at offset {offset} (expected 0x00-0x13 or 0x15-0x19)")]
    UnknownTag {
        /// The tag byte.
        tag: u8,
        /// Where it was read.
        offset: usize,
    },
    /// The header's count disagrees with the sequence-consuming records found.
    #[error("WriteBatch header says {header} records but {found} sequence-consuming records follow")]
    CountMismatch {
        /// The count in the 12-byte header.
        header: u32,
        /// Records found (Put, Delete, SingleDelete, DeleteRange, Merge, BlobIndex, PutEntity, TimedPut).
        found: u64,
    },
    /// A column family id that Kvrocks 2.10 does not create.
    #[error("unknown column family id {id} in the record at offset {offset} (Kvrocks 2.10 uses 0-6)")]
    UnknownColumnFamily {
        /// The id read from the record.
        id: u32,
        /// Where the record starts.
        offset: usize,
    },
    /// A metadata flags byte whose type is not one Kvrocks 2.10 defines.
    #[error("unknown Kvrocks type {type_id} in metadata flags 0x{flags:02x} at offset {offset} (expected 1-11)")]
    UnknownType {
        /// The low 4 bits of the flags.
        type_id: u8,
        /// The whole flags byte.
        flags: u8,
        /// Where the flags byte was read.
        offset: usize,
    },
    /// Bytes that do not follow the expected layout.
    #[error("malformed {what} at offset {offset}")]
    Malformed {
        /// What was expected.
        what: &'static str,
        /// Where it went wrong.
        offset: usize,
    },
    /// A key or value error inside one WriteBatch record.
    #[error("record at offset {offset} ({cf}): {source}")]
    Record {
        /// Where the record starts in the WriteBatch rep.
        offset: usize,
        /// The record's column family.
        cf: ColumnFamily,
        /// What went wrong inside the key or value.
        source: Box<KvrocksError>,
    },
    /// A LogData blob that is neither a `WriteBatchLogData` nor a `ServerLogData`.
    #[error("LogData record at offset {offset}: {source}")]
    LogData {
        /// Where the record starts in the WriteBatch rep.
        offset: usize,
        /// What went wrong inside the blob.
        source: Box<KvrocksError>,
    },
    /// A key of a checkpoint that cannot be written to a Redis target.
    #[error("key {key:?} of the checkpoint cannot be copied: {what}")]
    Unconvertible {
        /// The key.
        key: String,
        /// Why.
        what: &'static str,
    },
    /// A key of a namespace that has no target database.
    #[error(
        "a key of the Kvrocks namespace {0:?} has no target database: map it in [source.kvrocks.namespaces] \
         (--kvrocks-namespace NAME=DB), or skip unmapped namespaces"
    )]
    UnmappedNamespace(String),
    /// The RocksDB checkpoint could not be opened or read.
    #[error("the checkpoint in {dir}: {why}")]
    Checkpoint {
        /// Its directory.
        dir: String,
        /// What RocksDB said.
        why: String,
    },
}

/// `Result` with [`KvrocksError`].
pub type Result<T> = std::result::Result<T, KvrocksError>;
