//! What the parser hands out: one [`Event`] at a time, borrowing the caller's input and
//! the parser's scratch arena until the next call.

use crate::format::{Encoding, Format, Kind};
use crate::slot::{Fields, Ids, Members, PendingEntries, Ranges, Scored, StreamEntries, StreamId};

/// One step of an RDB stream, in stream order.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The magic line was read.
    Header(Format),
    /// An auxiliary field (`redis-ver`, `repl-id`, `lua`, …). Integer-encoded values are
    /// given as their decimal text.
    Aux {
        /// Field name.
        key: &'a [u8],
        /// Field value.
        value: &'a [u8],
    },
    /// The following keys belong to this database.
    SelectDb {
        /// Database index.
        db: u64,
    },
    /// Size hint for the current database.
    ResizeDb {
        /// Keys in the database.
        keys: u64,
        /// Keys with an expiry.
        expires: u64,
    },
    /// Size hint for one cluster slot (Redis 7.4+ cluster nodes).
    SlotInfo {
        /// Slot number.
        slot: u64,
        /// Keys in the slot.
        keys: u64,
        /// Keys with an expiry.
        expires: u64,
    },
    /// A slot-import job in progress on a Valkey 9 node.
    SlotImport {
        /// The job's name.
        job: &'a [u8],
        /// The slot ranges being imported.
        ranges: Ranges<'a>,
    },
    /// A function library (Redis 7.0+), as given to `FUNCTION LOAD`.
    Function {
        /// The library source, starting `#!<engine> name=<name>`.
        code: &'a [u8],
    },
    /// Module auxiliary data, kept opaque.
    ModuleAux {
        /// The module type that wrote it.
        module: ModuleId,
        /// When it was written: 1 before the keyspace, 2 after.
        when: u64,
        /// The module's opcode stream, up to and including its EOF marker.
        raw: &'a [u8],
    },
    /// A key starts. Its value follows as [`Event::Value`] pieces, then [`Event::KeyEnd`].
    Key(Key<'a>),
    /// A piece of the current key's value.
    Value(Value<'a>),
    /// The current key's value is complete.
    KeyEnd {
        /// Offset just past the value: with [`Key::offset`], the key's size in the stream.
        offset: u64,
    },
    /// A collection with no elements was found and skipped, as Redis itself does on load.
    EmptyKeySkipped {
        /// Database index.
        db: u64,
        /// The key.
        key: &'a [u8],
        /// How the empty value was encoded.
        encoding: Encoding,
        /// Offset of its type byte.
        offset: u64,
    },
    /// The stream is complete.
    End(Checksum),
}

/// The start of one key.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Key<'a> {
    /// Database index.
    pub db: u64,
    /// The key's name.
    pub key: &'a [u8],
    /// How the value is encoded.
    pub encoding: Encoding,
    /// Absolute expiry in Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds, when the master uses an LRU policy.
    pub idle_secs: Option<u64>,
    /// LFU counter, when the master uses an LFU policy.
    pub freq: Option<u8>,
    /// Number of key-metadata classes attached (Redis 8.6+), kept opaque.
    pub meta_classes: u64,
    /// The value's encoded bytes, when they are at most `raw_value_max` long.
    pub raw: Option<RawValue<'a>>,
    /// A string's whole decoded value, with [`crate::ParserConfig::inline_strings`] when
    /// it is one piece and raw: then no `Value` and no `KeyEnd` event follow this key.
    pub value: Option<&'a [u8]>,
    /// Offset of the key's type byte in the stream.
    pub offset: u64,
}

impl Key<'_> {
    /// The kind of value.
    pub fn kind(&self) -> Kind {
        self.encoding.kind()
    }
}

/// A value exactly as the master encoded it: with [`RawValue::version`] and a CRC-64 it
/// forms a `DUMP`/`RESTORE` payload.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RawValue<'a> {
    /// The type byte.
    pub type_byte: u8,
    /// The encoded value that follows the key.
    pub value: &'a [u8],
    /// The RDB version the value is encoded in.
    pub version: u16,
    /// Stream offset just past the value.
    pub end: u64,
}

/// A piece of a key's value. Collections come in batches; a big string in pieces.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A piece of a string value; the pieces of one value, concatenated, are the value.
    String(&'a [u8]),
    /// List elements, head to tail.
    List(Members<'a>),
    /// Set members.
    Set(Members<'a>),
    /// Sorted-set members and scores.
    ZSet(Scored<'a>),
    /// Hash fields and values, with field expiry where the hash has it.
    Hash(Fields<'a>),
    /// Stream entries, in ID order.
    StreamEntries(StreamEntries<'a>),
    /// Stream-wide state; comes after all entries.
    StreamMeta(StreamMeta),
    /// A consumer group; its pending entries and consumers follow.
    StreamGroup(StreamGroup<'a>),
    /// Pending entries of the current group.
    StreamGroupPending(PendingEntries<'a>),
    /// A consumer of the current group; its pending IDs follow.
    StreamConsumer(StreamConsumer<'a>),
    /// IDs pending for the current consumer.
    StreamConsumerPending(Ids<'a>),
    /// Idempotent-producer settings of a Redis 8.6 stream.
    StreamIdmp(StreamIdmp),
    /// A module value: its type; the bytes are in [`Key::raw`].
    Module(ModuleId),
}

/// Stream-wide state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamMeta {
    /// Number of entries.
    pub length: u64,
    /// The last ID ever generated.
    pub last_id: StreamId,
    /// The first entry's ID (RDB 10+).
    pub first_id: Option<StreamId>,
    /// The highest ID ever deleted (RDB 10+).
    pub max_deleted_id: Option<StreamId>,
    /// How many entries were ever added (RDB 10+).
    pub entries_added: Option<u64>,
}

/// A consumer group.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StreamGroup<'a> {
    /// Group name.
    pub name: &'a [u8],
    /// Last delivered ID.
    pub last_id: StreamId,
    /// Entries read (RDB 10+); `u64::MAX` when the master did not know it.
    pub entries_read: Option<u64>,
}

/// A consumer of a group.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct StreamConsumer<'a> {
    /// Consumer name.
    pub name: &'a [u8],
    /// Last time the consumer was seen (ms).
    pub seen_ms: i64,
    /// Last time the consumer was active (ms, RDB 11+).
    pub active_ms: Option<i64>,
}

/// Idempotent-producer settings of a stream (Redis 8.6, RDB 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamIdmp {
    /// How long producer IDs are remembered.
    pub duration: u64,
    /// How many IDs are remembered per producer.
    pub max_entries: u64,
    /// Producers tracked.
    pub producers: u64,
}

/// How the stream's trailer checksum came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// The stored CRC-64 matches.
    Verified(u64),
    /// The writer stored zero: checksums were disabled (`rdbchecksum no`).
    Disabled,
    /// The format has no checksum (RDB versions before 5).
    Absent,
}

/// A module type: a 9-character name and an encoding version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModuleId(pub u64);

const MODULE_CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl ModuleId {
    /// The 9-character type name (e.g. `ReJSON-RL`).
    pub fn name(self) -> String {
        let mut id = self.0 >> 10;
        let mut name = [0u8; 9];
        for slot in name.iter_mut().rev() {
            *slot = MODULE_CHARSET.get((id & 63) as usize).copied().unwrap_or(b'?');
            id >>= 6;
        }
        String::from_utf8_lossy(&name).into_owned()
    }

    /// The module's encoding version.
    pub fn encver(self) -> u64 {
        self.0 & 1023
    }
}

impl std::fmt::Display for ModuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.name(), self.encver())
    }
}
