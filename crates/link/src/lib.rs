//! The replication link: connects to a master (TCP or TLS), drives the sans-IO
//! [`replicant_repl::Replica`], streams snapshot bytes straight from the socket into a
//! [`replicant_rdb::Parser`] (no temp file, never the whole RDB in memory), hands every
//! RDB event and live command to a [`Sink`], and after a dropped link reconnects with
//! `PSYNC <replid> <offset+1>`.
//!
//! # Brief overview
//!
//! - [`run`] loops over connections until shutdown or a final error; [`LinkConfig`] says
//!   where and how; [`FullResyncPolicy`] says what to do when the master refuses to
//!   continue a stream.
//! - [`Sink`] receives everything in order. Its `ready` is awaited between reads, so a
//!   slow sink slows reading from the master (backpressure).
//! - [`load_rdb`] delivers an RDB file to a [`Sink`] as a full sync from a master would,
//!   so `rdb restore` runs on the same writer as `sync`.
//! - [`LinkStatus`] exposes the link's state and counters to the rest of the process.

#![deny(missing_docs)]

mod config;
mod error;
mod feed;
mod file;
mod retry;
mod session;
mod sink;
mod space;
mod status;

pub use config::{FullResyncPolicy, LinkConfig};
pub use error::LinkError;
pub use file::{load_rdb, Loaded, RdbFile};
pub use retry::{after_failure, Failed, Retry, MAX_PAUSE};
pub use session::run;
pub use sink::{Sink, SinkError};
pub use space::{check_free_space, SPACE_MARGIN};
pub use status::{LinkState, LinkStatus};
