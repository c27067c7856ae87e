//! Scan mode: a copy of a server that cannot be replicated from (managed services refuse
//! `SYNC`, `PSYNC` and `REPLICAOF`; some stores have no replication protocol), read over
//! plain commands: `SCAN` each database, then `DUMP` and the expiry (`PEXPIRETIME`, or
//! `PTTL` on older servers) of every key, pipelined.
//!
//! Each key's `DUMP` payload is an RDB value with a footer (RDB version and CRC-64); the
//! footer is checked and the key is written, with its expiry as an absolute time, into an
//! RDB stream ([`rdb`]) that the caller parses and delivers exactly as a full sync from a
//! master (the daemon hands it to `replicant_link::load_rdb`). The writer then
//! `RESTORE`s each key when the target can load the payload, or rebuilds it with commands
//! when it cannot (an older target, Kvrocks), as for a full sync.
//!
//! # Brief overview
//!
//! - [`payload`] (sans-IO): a `DUMP` payload's footer checked and split off.
//! - [`rdb`] (sans-IO): the RDB stream written from keys and payloads.
//! - `pace` (sans-IO): how long to wait so that reads keep within `max_ops` per second.
//! - [`scan`] (tokio): the driver: [`scan::copy`] reads the source into an `AsyncWrite`.
//! - [`ScanStats`]: keys scanned, copied and vanished (deleted or expired between `SCAN`
//!   and `DUMP`: counted, not an error).
//!
//! What scan mode does not see is said in `docs/scan.md`: writes made during the copy may
//! be missing, since no write stream is followed.

#![deny(missing_docs)]

mod conn;
mod error;
mod pace;
pub mod payload;
pub mod rdb;
pub mod scan;

pub use error::ScanError;
pub use scan::{ScanConfig, ScanStats};
