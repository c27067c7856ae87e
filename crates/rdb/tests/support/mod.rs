//! Shared helpers for the parser's integration tests, one module per concern:
//!
//! * [`corpus`]: the shared RDB corpus (read in place through `replicant_testkit`).
//! * [`drive`]: drivers that feed a parser in chunks and render its events as text.
//! * [`writer`]: the RDB byte builder, for generated and byte-exact inputs.
//! * [`collect`]: the event collector (owned events, batches merged).
//! * [`model`]: the collected events folded into an owned model of a whole RDB.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub(crate) mod collect;
pub(crate) mod corpus;
pub(crate) mod drive;
pub(crate) mod model;
pub(crate) mod writer;

pub(crate) use corpus::{all_fixtures, fixture, good_fixtures, small_fixtures, Fixture, BUILT_TO_FAIL};
pub(crate) use drive::{drive, events, minimal, random_chunks, run, whole, whole_with, MinimalRun, Run};

use replicant_rdb::Error;

/// Renders bytes as hex, for failure messages that must be reproducible.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an error is one a corrupt or cut-off input may legitimately produce: its text
/// names the offset, or it is one of the variants that concern the whole stream.
pub(crate) fn acceptable_error(e: &Error) -> bool {
    match e {
        Error::ChecksumMismatch { .. } | Error::Truncated { .. } | Error::BadMagic { .. } => true,
        Error::UnsupportedVersion { .. } => true,
        Error::Finished => false,
        other => other.to_string().contains("offset"),
    }
}
