//! Turns the events of an RDB parser into commands for a target.
//!
//! # Brief overview
//!
//! - [`Converter`] takes [`replicant_rdb::Event`]s in order and appends to [`Commands`]
//!   either one `RESTORE key <abs-ms> <payload> REPLACE ABSTTL` per key (when the target
//!   can load the source's payload and the value was small enough to be held whole) or
//!   the commands that rebuild the key in batches (`RPUSH`, `SADD`, `ZADD`, `HSET` +
//!   `HPEXPIREAT`, `XADD`/`XSETID`/`XGROUP`/`XCLAIM`), then `PEXPIREAT`.
//! - [`Commands`] holds RESP bytes plus, per command, its name, db and key, so a target's
//!   error reply can be reported with the command that caused it.
//! - [`TargetProfile`] says what the target loads; [`ConvertConfig`] picks the mode.
//!
//! Pure: no I/O, no clock (the caller passes "now" for expired-key skipping).

#![deny(missing_docs)]

mod converter;
mod error;
mod payload;
mod resp;
mod slot;
mod stream;
mod target;

pub use converter::{ConvertConfig, Converter, Mode, Stats};
pub use error::ConvertError;
pub use payload::{payload_len, write_payload};
pub use resp::{CommandInfo, Commands};
pub use slot::{key_slot, SLOTS};
pub use target::{Family, TargetProfile};
