//! The replica side of the Redis and Valkey replication protocol, sans-IO.
//!
//! # Brief overview
//!
//! - [`Replica`] is a state machine: the driver calls [`Replica::handle_connected`], sends
//!   what [`Replica::poll_transmit`] returns, feeds received bytes to
//!   [`Replica::handle_input`], and calls [`Replica::handle_timeout`] at
//!   [`Replica::poll_timeout`].
//! - [`Input::Rdb`] marks snapshot bytes: they go to an RDB parser (`replicant-rdb`), never
//!   to a temp file; [`Replica::rdb_consumed`] and [`Replica::rdb_done`] report back.
//! - [`Event::Command`] carries each replicated [`Command`] with the master offset after it
//!   and its database; `REPLCONF GETACK` and periodic `REPLCONF ACK` are answered inside.
//! - Resuming: [`ReplicaConfig::resume`] (a [`ResumePoint`]) asks `PSYNC <replid> <offset+1>`; the master may
//!   answer [`Event::Continue`] (possibly with a new replication ID after a failover) or
//!   [`Event::FullResync`] with `partial_requested` set, for the driver's policy to decide.
//!   [`Replica::resume_point`] never falls inside a `MULTI`/`EXEC` block, so a transaction
//!   cut by a dropped link is received again whole.
//!
//! - [`CommandBuf`] builds a [`Command`] from its arguments, for sources whose stream is not
//!   RESP (Kvrocks, Pika), so that the writer forwards every source's commands alike.
//!
//! No tokio, no clock: everything is testable byte by byte.

#![deny(missing_docs)]

mod built;
mod command;
mod config;
mod error;
mod id;
mod replica;
mod resume;

pub use built::CommandBuf;
pub use command::Command;
pub use config::ReplicaConfig;
pub use error::ReplError;
pub use id::ReplId;
pub use replica::{Event, Input, Replica, State};
pub use resume::ResumePoint;
