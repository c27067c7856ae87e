//! The writer side of a migration: takes the link's snapshot events and live commands,
//! and writes them to a target through key-hash-sharded, pipelined senders.
//!
//! # Brief overview
//!
//! - [`route`] (pure) decides from a command's keys whether it goes to one sender, splits
//!   exactly per slot (`DEL`, `MSET`), or runs as a barrier.
//! - [`Writer`] implements [`replicant_link::Sink`]: the converter turns snapshot events
//!   into `RESTORE` or rebuild commands; live commands keep their bytes; `MULTI`/`EXEC`
//!   stays atomic; each sender keeps its own database selection.
//! - The committed offset (the highest source offset whose commands the target has all
//!   acknowledged) is what the link reports in `REPLCONF ACK`.
//! - With `exactly_once`, streamed batches are transactions carrying a marker per sender
//!   (`marker`), so a resume after a crash skips exactly what the target applied.
//! - A target silent with commands in flight for `WriterConfig::reply_timeout` (a
//!   half-open connection) stops the run; [`WriterError::is_retryable`] tells the caller
//!   whether running again may help.

#![deny(missing_docs)]

mod error;
mod limit;
mod marker;
pub mod route;
mod shard;
mod topology;
mod writer;

pub use error::WriterError;
pub use limit::RateLimit;
pub use marker::{AppliedMarks, Mark};
pub use writer::{ShardFigures, Writer, WriterConfig, WriterProgress};
