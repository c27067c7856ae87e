//! `[parser]`: the RDB parser's memory limits for the snapshot, the same as the `rdb`
//! commands' `--batch-items`, `--batch-bytes`, `--raw-value-max` and `--max-buffered`.

use serde::Deserialize;

use crate::check::Problems;

/// Smallest `parser.batch_bytes`.
pub const MIN_BATCH_BYTES: usize = 1024;
/// Smallest `parser.max_buffered`: 1 MiB.
pub const MIN_MAX_BUFFERED: usize = 1 << 20;

/// `[parser]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Parser {
    /// Elements per batch, and so per command, for big collections (default 512, >= 1).
    pub batch_items: usize,
    /// Bytes per batch; bigger strings are written in pieces (default 1 MiB, >= 1024).
    pub batch_bytes: usize,
    /// Values whose encoded size is at most this may go as `RESTORE` payloads (default
    /// 512 KiB, <= `max_buffered`).
    pub raw_value_max: usize,
    /// Largest single element, packed container or module value held in memory
    /// (default 512 MiB, >= 1 MiB).
    pub max_buffered: usize,
}

impl Default for Parser {
    fn default() -> Self {
        Parser { batch_items: 512, batch_bytes: 1 << 20, raw_value_max: 512 << 10, max_buffered: 512 << 20 }
    }
}

impl Parser {
    pub(crate) fn check(&self, out: &mut Problems) {
        out.at_least("parser.batch_items", self.batch_items, 1);
        out.at_least("parser.batch_bytes", self.batch_bytes, MIN_BATCH_BYTES);
        out.at_least("parser.max_buffered", self.max_buffered, MIN_MAX_BUFFERED);
        if self.raw_value_max > self.max_buffered {
            out.push(
                "parser.raw_value_max",
                format!("must be at most parser.max_buffered ({}) (got {})", self.max_buffered, self.raw_value_max),
            );
        }
    }
}
