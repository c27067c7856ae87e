//! `[writer]`: the sharded, pipelined writer's knobs — senders, window, batch size, rate
//! limits, tolerated error replies and strict per-key ordering — with their bounds.

use serde::Deserialize;

use crate::check::Problems;

/// Bounds of `writer.shards`.
pub const SHARDS: (usize, usize) = (1, 1024);
/// Bounds of `writer.window`.
pub const WINDOW: (usize, usize) = (1, 1_000_000);
/// Bounds of `writer.batch_commands`.
pub const BATCH_COMMANDS: (usize, usize) = (1, 65_536);
/// Error codes `writer.skip_errors` may not hold, with the reason.
const NOT_SKIPPABLE: &[(&str, &str)] = &[
    ("MOVED", "is handled by the writer (cluster redirection) and cannot be skipped"),
    ("ASK", "is handled by the writer (cluster redirection) and cannot be skipped"),
    ("OOM", "cannot be skipped: a target out of memory would drop writes silently"),
];

/// `[writer]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Writer {
    /// Senders, each with its own connection to the target (default 8, 1..=1024).
    pub shards: usize,
    /// Commands in flight per connection, at most (default 1024, 1..=1 000 000).
    pub window: usize,
    /// Commands per batch handed to a sender (default 256, 1..=65 536).
    pub batch_commands: usize,
    /// Commands per second, at most; 0 (default) = unlimited. See [`Writer::max_ops`].
    pub max_ops: u64,
    /// Bytes per second, at most; 0 (default) = unlimited. See [`Writer::max_bytes`].
    pub max_bytes: u64,
    /// Error codes (the reply's first word, e.g. `BUSYKEY`) that are logged and counted
    /// instead of stopping the run (default: none).
    pub skip_errors: Vec<String>,
    /// Never two writes to one key in flight at once (default false).
    pub strict_key_order: bool,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            shards: 8,
            window: 1024,
            batch_commands: 256,
            max_ops: 0,
            max_bytes: 0,
            skip_errors: Vec::new(),
            strict_key_order: false,
        }
    }
}

impl Writer {
    /// The commands-per-second limit, `None` when unlimited.
    pub fn max_ops(&self) -> Option<u64> {
        Some(self.max_ops).filter(|&n| n > 0)
    }

    /// The bytes-per-second limit, `None` when unlimited.
    pub fn max_bytes(&self) -> Option<u64> {
        Some(self.max_bytes).filter(|&n| n > 0)
    }

    pub(crate) fn check(&self, out: &mut Problems) {
        out.range("writer.shards", self.shards, SHARDS.0, SHARDS.1);
        out.range("writer.window", self.window, WINDOW.0, WINDOW.1);
        out.range("writer.batch_commands", self.batch_commands, BATCH_COMMANDS.0, BATCH_COMMANDS.1);
        for (i, code) in self.skip_errors.iter().enumerate() {
            let field = format!("writer.skip_errors[{i}]");
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                out.push(field, format!("must be an error code of letters A-Z, e.g. \"BUSYKEY\" (got {code:?})"));
            } else if let Some((_, why)) = NOT_SKIPPABLE.iter().find(|(c, _)| c == code) {
                out.push(field, format!("{code:?} {why}"));
            }
        }
    }

    pub(crate) fn warnings(&self, out: &mut Vec<String>) {
        if self.skip_errors.iter().any(|c| c == "ERR") {
            out.push(
                "writer.skip_errors: \"ERR\" skips every generic error reply; the target may \
                 end up different from the source without the run stopping"
                    .to_string(),
            );
        }
    }
}
