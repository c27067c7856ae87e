//! A sans-IO streaming parser for the RDB snapshots that Redis (RDB 1-13) and Valkey
//! (`VALKEY080`) write to disk and send to replicas during a full sync.
//!
//! # Brief overview
//!
//! - [`Parser`] takes bytes in chunks of any size and hands out one [`Event`] at a time:
//!   aux fields, database selection, functions, module data, and for each key a
//!   [`Key`], its value in batches ([`Value`]), and [`Event::KeyEnd`] (or, with
//!   [`ParserConfig::inline_strings`], a small string whole in [`Key::value`]); finally
//!   [`Event::End`] with the checksum result.
//! - Events borrow the caller's input (zero-copy) and the parser's scratch arena.
//!   Memory is bounded by [`ParserConfig`]: big collections come out in batches and big
//!   strings in pieces, whatever the size of one key.
//! - Small values also come out raw ([`RawValue`]), ready for a `RESTORE` payload.
//! - Malformed input yields an [`Error`] with the byte offset; nothing panics and no
//!   allocation is sized from an unchecked length.
//!
//! The crate does no I/O: a file reader, a socket driver or a test feeds it.

#![deny(missing_docs)]

mod checksum;
mod config;
mod error;
mod event;
mod format;
mod lzf;
mod packed;
mod parser;
mod reader;
mod slot;
mod value;

pub use checksum::crc64;
pub use config::ParserConfig;
pub use error::Error;
pub use event::{Checksum, Event, Key, ModuleId, RawValue, StreamConsumer, StreamGroup, StreamIdmp, StreamMeta, Value};
pub use format::{Encoding, Flavor, Format, Kind};
pub use parser::{Parser, Status};
pub use slot::{Fields, Ids, Members, PendingEntries, Ranges, Scored, StreamEntries, StreamEntry, StreamId};
