//! Connections to the target: a RESP client that pipelines encoded command batches,
//! reads every reply, and stops at the first error reply with the command, key and
//! reply in the message.
//!
//! # Brief overview
//!
//! - [`Connection::connect`] opens a connection to a [`replicant_net::Endpoint`] (TCP or
//!   TLS) and authenticates.
//! - [`Connection::send`] writes a [`replicant_convert::Commands`] batch and keeps at
//!   most a window of commands unanswered; [`Connection::drain`] waits for all replies.
//! - [`Connection::send_atomic`] sends a batch as one transaction with a [`Marker`], so
//!   that after a crash the marker says exactly which batches were applied.
//! - With [`Policy::follow_redirects`], `MOVED`/`ASK`/`TRYAGAIN` replies do not fail: the
//!   commands are kept as [`Redirect`]s for the caller to run where the cluster says.
//! - A target whose databases are reached by password (Kvrocks namespaces:
//!   [`replicant_net::Endpoint::db_passwords`]) gets `AUTH <password>` wherever `SELECT`
//!   would go.
//! - [`Policy`] says which error replies are tolerated and whether writes to one key may
//!   overlap in flight.
//! - [`Timeouts`] bound the connection setup and the silence of a target with commands in
//!   flight ([`Connection::connect_with`]); [`TargetError::is_connection`] and
//!   [`TargetError::is_transient_rejection`] tell errors worth a retry from final ones.

#![deny(missing_docs)]

mod atomic;
mod connection;
mod db_auth;
mod error;
mod io;
mod policy;
mod redirect;
mod reply;

pub use atomic::Marker;
pub use connection::{Connection, ConnectionStats};
pub use error::TargetError;
pub use io::Timeouts;
pub use policy::Policy;
pub use redirect::{Redirect, RedirectKind};
pub use reply::Reply;
