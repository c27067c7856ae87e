//! Sans-IO decoding of what a Kvrocks 2.10 master sends a replica over PSYNC: RocksDB
//! WriteBatches, and inside them Kvrocks' keys, metadata values and LogData.
//!
//! # Brief overview
//!
//! - [`Frame`] splits the PSYNC byte stream into `+OK`, WriteBatch bulks and pings.
//! - [`Batch`] reads a WriteBatch rep's header and iterates its [`Record`]s ([`Op`]s), with
//!   nothing Kvrocks-specific.
//! - [`Update::decode`] turns a rep into Kvrocks terms: records grouped by [`LogData`], each
//!   a [`Change`] with its [`ColumnFamily`], its key split ([`MetadataKey`],
//!   [`InternalKey`] + [`SubKey`]) and its value decoded ([`Metadata`], [`SubValue`]).
//! - [`convert`] turns each decoded batch into the Redis commands that make a target hold
//!   what the master holds, for every Kvrocks 2.10 type ([`convert::Converted`]: commands
//!   per namespace, plus the records that cannot be converted and why).
//!
//! Keys carry a slot id only on cluster-enabled masters; the caller says which with
//! [`KeyLayout`]. Malformed input gives a [`KvrocksError`] with the byte offset; nothing
//! panics and no allocation is sized from a length read off the wire.
//!
//! ```
//! use replicant_kvrocks::{Change, KeyLayout, Update};
//!
//! // `SET a 1` from Kvrocks' own applybatch test (old 32-bit encoding).
//! let rep = b"\x04\0\0\0\0\0\0\0\x01\0\0\0\x03\x011\x05\x01\x0d\x0b__namespacea\x06\x01\0\0\0\x001";
//! let update = Update::decode(rep, KeyLayout::STANDALONE)?;
//! assert_eq!(update.next_sequence(), 5);
//! let Some(Change::PutMetadata { key, .. }) = update.entries().next().map(|e| &e.change) else { unreachable!() };
//! assert_eq!(key.key, b"a");
//! # Ok::<(), replicant_kvrocks::KvrocksError>(())
//! ```
//!
//! # Layout
//!
//! - `cursor`: bounds-checked reads (the only place that slices input).
//! - `batch`: the WriteBatch rep. `cf`: column families. `key`: internal keys and the
//!   double encoding. `metadata`: metadata values. `subkey`: subkeys and their values per
//!   type. `stream`: stream ids, entries and group state. `log_data`: LogData.
//! - `update`: the typed decoding of one batch. `frame`: PSYNC stream framing. `convert`: to
//!   Redis commands.

#![deny(missing_docs)]

mod batch;
mod cf;
mod checkpoint;
pub mod convert;
mod cursor;
mod error;
mod frame;
mod key;
mod log_data;
mod metadata;
mod snapshot;
pub mod source;
mod stream;
mod subkey;
mod transfer;
mod update;

pub use batch::{Batch, Op, PrepareKind, Record, Records, HEADER_LEN};
pub use cf::ColumnFamily;
pub use error::{KvrocksError, Result};
pub use frame::{Frame, PING};
pub use key::{decode_double, encode_double, InternalKey, KeyLayout, MetadataKey, DEFAULT_NAMESPACE};
pub use log_data::{LogData, RedisCommand, RedisLog, REPL_ID_LEN};
pub use metadata::{
    BloomMetadata, Extra, JsonFormat, Metadata, RedisType, ENCODING_64BIT, TYPE_MASK, VERSION_COUNTER_BITS,
};
pub use stream::{ConsumerMetadata, GroupMetadata, PelEntry, StreamFields, StreamId, StreamKey, StreamMetadata};
pub use subkey::{SubKey, SubValue};
pub use transfer::{parse_meta, FileEvent, FileReceiver, MetaReply};
pub use update::{Change, Entry, Group, Update};
